"""The one table a benchmark run prints: every figure, what it is compared with, ratio, target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Row:
    """One figure. `ratio` is measured / reference; `met` is None when there is no target."""

    section: str
    figure: str
    measured: str
    reference: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


class Table:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(
        self,
        section: str,
        figure: str,
        measured: str,
        reference: str = "",
        ratio: float | None = None,
        target: str = "",
        check: Callable[[float], bool] | None = None,
    ) -> Row:
        met = None if check is None or ratio is None else bool(check(ratio))
        row = Row(section, figure, measured, reference, ratio, target, met)
        self.rows.append(row)
        return row

    def markdown(self) -> str:
        lines = [
            "| # | figure | measured | compared with | ratio | target | met |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for row in self.rows:
            ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
            met = {True: "yes", False: "**no**", None: ""}[row.met]
            lines.append(
                f"| {row.section} | {row.figure} | {row.measured} | {row.reference} | {ratio} "
                f"| {row.target} | {met} |"
            )
        return "\n".join(lines)

    def as_json(self) -> list[dict]:
        return [asdict(row) for row in self.rows]


START, END = "<!-- bench-run:start -->", "<!-- bench-run:end -->"


def record(doc: Path, text: str) -> None:
    """Put `text` between the run markers of `doc` (the rest of the file is kept)."""
    content = doc.read_text() if doc.exists() else f"{START}\n{END}\n"
    head, found, rest = content.partition(START)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"{doc}: no {START} ... {END} section to write the run into")
    doc.write_text(f"{head}{START}\n{text.strip()}\n{END}{tail}")


def rate(value: float) -> str:
    return f"{value:,.0f}/s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"
