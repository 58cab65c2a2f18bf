"""How error messages speak: counts in the right number, lists of names kept short."""

from __future__ import annotations

from collections.abc import Sequence

#: Names listed in a message before the rest is summed up as "and N more".
MAX_LISTED = 8


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 region`, `2 regions`, `0 regions`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def names(items: Sequence[str]) -> str:
    """`a, b, c`, or `a, b, c, ... h and 12 more` for a long list."""
    shown = ", ".join(items[:MAX_LISTED])
    rest = len(items) - MAX_LISTED
    return f"{shown} and {rest} more" if rest > 0 else shown



def has_have(n: int) -> str:
    return "has" if n == 1 else "have"
