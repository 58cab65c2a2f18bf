"""Property tests of `model.parse_price`: exact on AWS's strings, and every price it accepts is
one the API can render (a finite, positive JSON number), whatever text it is given."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spotter.api import render
from spotter.model import PriceParseError, parse_price

# SpotPrice as AWS writes it: a plain decimal with six places ("0.031200", "27.404000").
aws_prices = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=6, allow_nan=False,
    allow_infinity=False,
)
# Text that looks numeric enough to get past a naive check: signs, exponents, odd digits.
numberish = st.text(alphabet="0123456789.eE+-_ \t\n٣NnaIifty", max_size=32)


@given(aws_prices)
def test_aws_price_strings_parse_exactly(price: Decimal) -> None:
    text = f"{price:.6f}"
    assert parse_price(text) == price
    assert str(parse_price(text)) == text


@given(aws_prices)
def test_rendered_price_prints_back_the_same_digits(price: Decimal) -> None:
    rendered = render.price(parse_price(f"{price:.6f}"))
    assert Decimal(json.dumps(rendered)) == price


@given(st.one_of(numberish, st.text(max_size=40)))
@example("1E-999999")  # positive, finite, and 0.0 as a float: "a price of 0"
@example("1E+999999")  # finite as a Decimal, infinite as a float: not JSON
@example("1_000")  # Python's digit separators are not AWS's notation
@example("٣")  # neither are other scripts' digits
@example("sNaN")
@example("-0.01")
@example("0")
def test_any_accepted_price_is_a_finite_positive_json_number(text: str) -> None:
    try:
        value = parse_price(text)
    except PriceParseError:
        return
    as_float = render.price(value)
    assert math.isfinite(as_float) and as_float > 0, (text, value)
    json.dumps(as_float, allow_nan=False)
    assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", text.strip()), text


@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text())))
def test_what_is_not_text_is_refused(value: object) -> None:
    with pytest.raises(PriceParseError):
        parse_price(value)
