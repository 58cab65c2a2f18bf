"""Answers derived once per view: the same bytes as resp.media, re-rendered when the clock moves."""

from __future__ import annotations

import falcon

from spotter.api import answers

BODY = {"price": 0.0033, "age_seconds": 12.0, "regions_missing": ["ap-east-1"], "zone": "é"}


def test_a_kept_body_is_byte_identical_to_what_resp_media_renders() -> None:
    plain = falcon.Response()
    plain.media = BODY
    kept, memo = falcon.Response(), {}
    answers.json_body(kept, memo, "k", (12.0, False), lambda: BODY)
    again = falcon.Response()
    answers.json_body(again, memo, "k", (12.0, False), lambda: {"not": "used"})
    assert kept.render_body() == again.render_body() == plain.render_body()
    assert again.content_type == falcon.MEDIA_JSON


def test_a_body_is_rendered_again_when_its_clock_stamp_changes() -> None:
    memo: dict = {}
    made: list[float] = []

    def make(age: float) -> dict:
        made.append(age)
        return {**BODY, "age_seconds": age}

    for age in (12.0, 12.0, 12.1, 12.1, 12.0):
        resp = falcon.Response()
        answers.json_body(resp, memo, "k", (age, False), lambda age=age: make(age))
        assert f'"age_seconds": {age}'.encode() in resp.render_body()
    assert made == [12.0, 12.1, 12.0]


def test_memoized_values_are_made_once_per_key_and_the_memo_stays_bounded() -> None:
    memo: dict = {}
    calls: list[int] = []

    def make(key: int) -> int:
        calls.append(key)
        return key * 10

    for key in [1, 1, 2, 1]:
        assert answers.memoized(memo, key, lambda key=key: make(key)) == key * 10
    assert calls == [1, 2]
    for key in range(3 * answers.MAX_MEMO):
        answers.memoized(memo, ("many", key), lambda: None)
    assert len(memo) <= answers.MAX_MEMO
