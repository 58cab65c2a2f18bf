"""What a resource derives from a store view, made once per view and kept on it (`view.memo`).

A view from the read cache stays the same object until Redis changes one of its keys, so the
cheapest zone and the rendered JSON body can live as long as it does. The clock is the only other
input of a body (age_seconds, stale): a body is reused while its clock stamp is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import falcon

T = TypeVar("T")
#: Entries per view; past it the memo starts over (query strings could vary without end).
MAX_MEMO = 64
_MISSING: Any = object()


def memoized(memo: dict[Hashable, Any], key: Hashable, make: Callable[[], T]) -> T:
    """`make()`, once per memo and key."""
    value = memo.get(key, _MISSING)
    if value is _MISSING:
        value = make()
        _keep(memo, key, value)
    return value


def json_body(
    resp: falcon.Response,
    memo: dict[Hashable, Any],
    key: Hashable,
    stamp: Hashable,
    make: Callable[[], Any],
) -> None:
    """Answer `make()` as JSON (`resp.media`), or the bytes it rendered to the last time with
    this key and stamp."""
    resp.content_type = falcon.MEDIA_JSON
    kept = memo.get(key)
    if kept is not None and kept[0] == stamp:
        resp.data = kept[1]
        return
    resp.media = make()
    body = resp.render_body()  # rendered once here; Falcon sends these same bytes
    if body is not None:
        _keep(memo, key, (stamp, body))


def _keep(memo: dict[Hashable, Any], key: Hashable, value: Any) -> None:
    # Threads share a cached view; a lost race only means rendering once more.
    if len(memo) >= MAX_MEMO:
        memo.clear()
    memo[key] = value
