"""Lua scripts. Each runs atomically in Redis, so readers never see half a snapshot."""

# KEYS[1] snapshot meta, KEYS[2] freshness hash, then per type: quotes hash, history zset.
# ARGV: fetched_at, source, region, retention_s, ntypes, fetch_id,
#       then per type: type, entry, nquotes, npoints, (score, member) * npoints.
# A type whose stored fetch is newer than this one is left alone: an older fetch (a late lock
# holder, a slow fetcher) never replaces newer data.
WRITE_SNAPSHOT = """
local fetched_at = tonumber(ARGV[1])
local source = ARGV[2]
local region = ARGV[3]
local retention = tonumber(ARGV[4])
local ntypes = tonumber(ARGV[5])
local fetch_id = ARGV[6]
local written, skipped, quotes = 0, 0, 0
local a = 7
for i = 1, ntypes do
  local qkey = KEYS[1 + 2 * i]
  local hkey = KEYS[2 + 2 * i]
  local itype = ARGV[a]
  local entry = ARGV[a + 1]
  local nquotes = tonumber(ARGV[a + 2])
  local npoints = tonumber(ARGV[a + 3])
  a = a + 4
  local old = redis.call('HGET', KEYS[2], itype)
  if old and tonumber(old) > fetched_at then
    skipped = skipped + 1
  else
    redis.call('HSET', qkey, region, entry)
    redis.call('HSET', KEYS[2], itype, ARGV[1])
    if npoints > 0 then
      for j = 0, npoints - 1 do
        redis.call('ZADD', hkey, ARGV[a + 2 * j], ARGV[a + 2 * j + 1])
      end
      local newest = redis.call('ZREVRANGE', hkey, 0, 0, 'WITHSCORES')
      if newest[2] then
        redis.call('ZREMRANGEBYSCORE', hkey, '-inf', '(' .. (tonumber(newest[2]) - retention))
      end
      redis.call('EXPIRE', hkey, math.floor(retention))
    end
    written = written + 1
    quotes = quotes + nquotes
  end
  a = a + 2 * npoints
end
local meta_old = redis.call('HGET', KEYS[1], 'fetched_at')
if (not meta_old) or tonumber(meta_old) <= fetched_at then
  redis.call('HSET', KEYS[1], 'fetched_at', ARGV[1], 'source', source, 'fetch_id', fetch_id,
             'types', written, 'quotes', quotes)
end
return {written, skipped, quotes}
"""

# KEYS[1] region status hash. ARGV: at, quotes. Success only moves forward in time.
RECORD_SUCCESS = """
local last = redis.call('HGET', KEYS[1], 'last_success')
if last and tonumber(last) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'state', 'ok', 'last_success', ARGV[1], 'last_attempt', ARGV[1],
           'quotes', ARGV[2])
redis.call('HDEL', KEYS[1], 'next_check')
return 1
"""

# KEYS[1] lock key. ARGV[1] token. Delete only our own lock: a holder that outlived its TTL
# must not release the lock another fetcher now holds.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
