"""Property tests of environment values: any environment gives Settings or a ConfigError naming
the variable — never another exception at start-up, and never a password in the message."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from spotter.config import (
    ConfigError,
    Settings,
    parse_duration,
    parse_instance_types,
    parse_list,
    parse_regions,
    redact_url,
)

VARIABLES = [
    "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB",
    "SPOTTER_REDIS_POOL_SIZE", "SPOTTER_REDIS_TIMEOUT", "SPOTTER_REDIS_PREFIX",
    "UPDATE_INTERVAL", "CACHE_EXPIRY", "LOG_LEVEL", "SPOTTER_LOG_FORMAT", "INSTANCE_TYPES",
    "SPOTTER_REGIONS", "SPOTTER_PRODUCTS", "API_HOST", "API_PORT", "GUNICORN_WORKERS",
    "SPOTTER_GUNICORN_THREADS", "SPOTTER_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS", "SPOTTER_AWS_CONNECT_TIMEOUT",
    "SPOTTER_AWS_READ_TIMEOUT", "SPOTTER_SOURCE", "SPOTTER_FETCH_CONCURRENCY",
    "SPOTTER_HISTORY_RETENTION", "SPOTTER_NOT_ENABLED_RECHECK", "SPOTTER_FETCHER_METRICS_PORT",
]
# Values near the accepted ones are the likeliest to slip through a check.
values = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789.smhd -", max_size=12),
    st.sampled_from([
        "redis://[::1", "redis://h:99999/0", "redis://:pw@h:notaport/0", "http://[", "https://x",
        "unix:///tmp/r.sock", "rediss://u:p@h:6380/1", "all", "1e3", "inf", "nan", "-0", "٣",
    ]),
)
SECRET = "hunter2-secret"
environments = st.builds(
    lambda env, with_password: {**env, "REDIS_PASSWORD": SECRET} if with_password else env,
    st.dictionaries(st.sampled_from(VARIABLES), values, max_size=6),
    st.booleans(),
)


@given(environments)
@example({"REDIS_URL": "redis://[::1"})  # urlsplit's own ValueError
@example({"REDIS_URL": f"redis://:{SECRET}@h:notaport/0"})
@example({"SPOTTER_AWS_ENDPOINT_URL": "http://["})
@example({"REDIS_URL": f"redis://:{SECRET}@[::1/0"})
@example({"REDIS_URL": "redis://:hunter2/secret@h:6379/0"})  # a '/' that urlsplit cuts at
def test_any_environment_is_settings_or_a_config_error_naming_the_variable(
    env: dict[str, str],
) -> None:
    try:
        settings = Settings.from_env(env)
    except ConfigError as err:
        assert any(str(err).startswith(f"{name}: ") for name in env), err
        assert "secret" not in str(err)
        return
    assert "secret" not in settings.redacted_redis_url
    assert 1 <= settings.update_interval <= 86400 and 1 <= settings.redis_pool_size <= 1000


@given(st.floats(min_value=0, max_value=10**6, allow_nan=False), st.sampled_from(
    [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("", 1)]
))
def test_durations_in_every_unit(number: float, unit: tuple[str, float]) -> None:
    text = f"{number:.3f}{unit[0]}"
    assert abs(parse_duration(text) - float(f"{number:.3f}") * unit[1]) < 1e-6 * max(1, number)


@given(st.text(max_size=30))
def test_any_duration_text_is_seconds_or_a_config_error(text: str) -> None:
    try:
        seconds = parse_duration(text, name="X")
    except ConfigError as err:
        assert str(err).startswith("X: ")
        return
    assert seconds >= 0


@given(st.lists(st.text(alphabet="abc-1.", min_size=1, max_size=8), max_size=6),
       st.sampled_from([",", " ", ", ", "\t", ",,"]))
def test_lists_split_on_commas_and_spaces_dropping_empties(items: list[str], sep: str) -> None:
    assert parse_list(sep.join(items)) == items


@given(st.text(max_size=60))
def test_any_type_or_region_list_is_validated_or_refused_by_name(text: str) -> None:
    for parse, name in ((parse_instance_types, "INSTANCE_TYPES"), (parse_regions, "R")):
        try:
            parsed = parse(text, name=name)
        except ConfigError as err:
            assert str(err).startswith(f"{name}: ")
            continue
        assert len(parsed) == len(set(parsed))


@given(st.text(alphabet="abcdefghij:@/[]%0123456789", max_size=40))
@example("redis://:pw@[::1/0")
def test_redaction_never_raises_and_never_shows_the_password(password: str) -> None:
    url = f"redis://user:{password}x@host:6379/0"
    try:
        shown = redact_url(url)
    except ValueError:
        raise AssertionError(f"redact_url raised on {url!r}") from None
    secret = password + "x"
    # A secret that is also a piece of the public parts (say "6379", the port) proves nothing.
    public = "redis://user:@host:6379/0"
    if len(secret) >= 4 and secret in shown and secret not in public:
        raise AssertionError(shown)
