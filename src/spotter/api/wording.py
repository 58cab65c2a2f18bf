"""How error messages speak: counts in the right number, lists of names kept short."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, replace, swap of two neighbours) from `a` to `b`; any number
    above `limit` comes back as `limit + 1`, found without finishing the table."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, before[j - 2] + 1)
            row[j] = best
        if min(row) > limit:
            return limit + 1
        before, previous = previous, row
    return min(previous[-1], limit + 1)


def closest(word: str, candidates: Iterable[str], limit: int = 2) -> str | None:
    """The candidate fewest edits (at most `limit`, at least one) away from `word`; ties go to
    the first in sorted order. For "did you mean ...?"."""
    found: tuple[int, str] | None = None
    for candidate in sorted(set(candidates)):
        edits = distance(word, candidate, limit)
        if 0 < edits <= limit and (found is None or edits < found[0]):
            found = (edits, candidate)
    return None if found is None else found[1]
