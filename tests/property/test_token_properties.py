"""Property tests of the replay endpoint's NextToken codec: a token round-trips for its own query,
and anything else — garbage, another query's token, a tampered one, even a well-signed payload
with absurd values — is refused as InvalidNextToken, never as another exception."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spotter.replay.tokens import PageState, TokenCodec, query_digest
from spotter.replay.wire import ApiError

SECRET = b"k" * 32
codec = TokenCodec(SECRET)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
states = st.builds(
    PageState,
    offset=st.integers(min_value=0, max_value=10**9),
    as_of=moments,
    start=st.one_of(st.none(), moments),
    end=moments,
)
forms = st.dictionaries(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.0123456789", min_size=1),
    st.text(max_size=20),
    max_size=6,
)


def signed(payload: object) -> str:
    """A token the server itself could have signed, around any JSON payload."""
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
    return f"{body.decode()}.{hmac.new(SECRET, body, hashlib.sha256).hexdigest()[:32]}"


def refused(digest: str, token: str) -> None:
    with pytest.raises(ApiError) as err:
        codec.decode(digest, token)
    assert err.value.code == "InvalidNextToken"


@given(st.sampled_from(["us-east-1", "eu-west-1"]), forms, states)
def test_a_token_round_trips_for_its_own_query(region: str, form: dict, state: PageState) -> None:
    digest = query_digest(region, "DescribeSpotPriceHistory", form)
    decoded = codec.decode(digest, codec.encode(digest, state))
    assert decoded.offset == state.offset
    for got, want in ((decoded.as_of, state.as_of), (decoded.end, state.end)):
        assert abs((got - want).total_seconds()) < 1e-3
    assert (decoded.start is None) == (state.start is None)


@given(forms, forms, states)
def test_another_querys_token_is_refused(first: dict, second: dict, state: PageState) -> None:
    a = query_digest("us-east-1", "DescribeSpotPriceHistory", first)
    b = query_digest("us-east-1", "DescribeSpotPriceHistory", second)
    if a != b:
        refused(b, codec.encode(a, state))


@given(states, st.integers(min_value=0, max_value=200), st.characters())
def test_a_tampered_token_is_refused(state: PageState, at: int, char: str) -> None:
    token = codec.encode("d", state)
    position = at % len(token)
    if token[position] != char:
        refused("d", token[:position] + char + token[position + 1 :])


@given(st.text(max_size=300))
def test_garbage_is_refused(token: str) -> None:
    refused("d", token)


@given(
    st.fixed_dictionaries(
        {
            "q": st.just("d"),
            "o": st.one_of(st.integers(), st.floats(), st.text(), st.none()),
            "t": st.one_of(st.floats(), st.integers(), st.text()),
            "s": st.one_of(st.none(), st.floats()),
            "e": st.one_of(st.floats(), st.integers(min_value=-(10**20), max_value=10**20)),
        }
    )
)
@example({"q": "d", "o": float("inf"), "t": 0, "s": None, "e": 0})  # int(inf): OverflowError
@example({"q": "d", "o": 0, "t": 1e20, "s": None, "e": 0})  # year out of range
def test_a_well_signed_absurd_payload_is_refused_not_raised(payload: dict) -> None:
    try:
        codec.decode("d", signed(payload))
    except ApiError as err:
        assert err.code == "InvalidNextToken"


@given(st.one_of(st.lists(st.integers()), st.integers(), st.text(), st.none()))
def test_a_well_signed_payload_of_the_wrong_shape_is_refused(payload: object) -> None:
    refused("d", signed(payload))


def test_the_endpoint_answers_a_non_ascii_token_with_an_ec2_error(replay_server) -> None:
    import requests

    answer = requests.post(
        replay_server.url,
        data={"Action": "DescribeSpotPriceHistory", "Version": "2016-11-15", "NextToken": "ü.ü"},
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ec2/"
                 "aws4_request, SignedHeaders=host, Signature=0"},
        timeout=10,
    )
    assert answer.status_code == 400 and "InvalidNextToken" in answer.text
