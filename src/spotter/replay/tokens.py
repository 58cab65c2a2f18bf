"""Opaque, signed NextToken values bound to the query that produced them.

A token carries the page offset and the replayed moment of the first page, so later pages see the
same snapshot even while the replay clock runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from spotter.replay.wire import ApiError

# Parameters that may change between pages without changing the query.
_UNBOUND = frozenset({"NextToken", "MaxResults", "Version", "Action"})


@dataclass(frozen=True, slots=True)
class PageState:
    """Where a paged query stands: offset, snapshot time and its mapped window."""

    offset: int
    as_of: datetime
    start: datetime | None
    end: datetime


def query_digest(region: str, action: str, form: Mapping[str, str]) -> str:
    """A short digest of everything that defines the result set."""
    bound = sorted(
        (k, v) for k, v in form.items() if k not in _UNBOUND and not k.startswith("X-Amz")
    )
    text = json.dumps([region, action, bound], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class TokenCodec:
    """Signs and checks tokens with a per-server secret: other servers' tokens are rejected."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def encode(self, digest: str, state: PageState) -> str:
        payload = {
            "q": digest,
            "o": state.offset,
            "t": state.as_of.timestamp(),
            "s": None if state.start is None else state.start.timestamp(),
            "e": state.end.timestamp(),
        }
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body.decode().rstrip('=')}.{self._sign(body.rstrip(b'='))}"

    def decode(self, digest: str, token: str) -> PageState:
        """The state in `token`; InvalidNextToken if it is garbage or from another query."""
        body, _, signature = token.partition(".")
        # Bytes, not str: compare_digest raises TypeError on non-ASCII text, which any client
        # can send.
        expected = self._sign(body.encode()).encode()
        if not body or not hmac.compare_digest(signature.encode(), expected):
            raise ApiError("InvalidNextToken", "The specified token is invalid.")
        try:
            padded = body + "=" * (-len(body) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded))
            if payload["q"] != digest:
                raise ApiError("InvalidNextToken", "The token belongs to a different request.")
            start = payload["s"]
            return PageState(
                offset=int(payload["o"]),
                as_of=datetime.fromtimestamp(payload["t"], UTC),
                start=None if start is None else datetime.fromtimestamp(start, UTC),
                end=datetime.fromtimestamp(payload["e"], UTC),
            )
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            # OverflowError/OSError: an offset or a time no int or datetime can hold.
            raise ApiError("InvalidNextToken", "The specified token is invalid.") from None

    def _sign(self, body: bytes) -> str:
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()[:32]
