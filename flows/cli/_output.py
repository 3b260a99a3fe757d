"""Plain-text output shared by the commands: aligned (what, value) rows."""

from __future__ import annotations


def table_lines(rows: list[tuple[str, str]]) -> list[str]:
    """`what  value` lines, indented, the values aligned in one column."""
    width = max((len(name) for name, _ in rows), default=0)
    return [f"  {name:<{width}}  {value}".rstrip() for name, value in rows]
