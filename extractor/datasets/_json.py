"""Typed field access for JSON records, failing with the record path (`paragraphs[2].sentences[5]`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from extractor.datasets.document import bad, read_text

T = TypeVar("T")


def field_of(record: Any, key: str, kind: type[T] | tuple[type, ...], path: Path | str, where: str) -> T:
    """`record[key]`, which must exist and be of `kind` (bool is not accepted as int)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(record, dict):
        raise bad(path, where, f"expected an object, got {type(record).__name__}")
    if key not in record:
        raise bad(path, where, f"missing field {key!r}")
    value = record[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise bad(
            path, f"{where}.{key}" if where else key, f"expected {expected}, got {type(value).__name__}"
        )
    return value


def parse_json(text: str, path: Path | str, where: str = "") -> Any:
    """`json.loads` whose failure names the file, the line (when given as `where`) and the column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        position = where or f"line {e.lineno}"
        raise bad(path, position, f"invalid JSON at column {e.colno}: {e.msg}") from e


def json_lines(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line number, "line N", parsed record) for every non-empty line of a JSON-lines file."""
    for n, line in enumerate(read_text(path, "utf-8-sig").splitlines(), start=1):
        if line.strip():
            where = f"line {n}"
            yield n, where, parse_json(line, path, where)
