"""`nrskg query` option parsing (the query itself runs on a real server in tests/graph/test_queries.py)."""

from __future__ import annotations

import pytest

from flows.cli.query import parse_params
from nrskg.errors import DataFormatError


def test_params_are_typed_when_they_parse_as_json_and_strings_otherwise() -> None:
    got = parse_params(
        ["name=2型糖尿病", "limit=5", "min=0.5", 'keys=["a","b"]', "flag=true", "eq=a=b", "e="]
    )
    assert got == {
        "name": "2型糖尿病",
        "limit": 5,
        "min": 0.5,
        "keys": ["a", "b"],
        "flag": True,
        "eq": "a=b",
        "e": "",
    }


@pytest.mark.parametrize("bad", ["novalue", "=5", " =x"])
def test_params_without_a_name_are_refused(bad: str) -> None:
    with pytest.raises(DataFormatError, match="expected NAME=VALUE"):
        parse_params([bad])
