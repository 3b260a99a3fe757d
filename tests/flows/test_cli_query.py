"""`nrskg query` option parsing (the query itself runs on a real server in tests/graph/test_queries.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flows.cli import app
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


def test_names_the_cookbook_looks_up_keep_the_text_as_typed() -> None:
    """A name `1.50` or `1e5` is text: as JSON it would become 1.5 or 100000.0 and find nothing."""
    assert parse_params(["name=1.50", "text=1e5", "limit=5"], text=["name", "text"]) == {
        "name": "1.50",
        "text": "1e5",
        "limit": 5,
    }


@pytest.mark.parametrize("bad", ["novalue", "=5", " =x"])
def test_params_without_a_name_are_refused(bad: str) -> None:
    with pytest.raises(DataFormatError, match="expected NAME=VALUE"):
        parse_params([bad])


def test_a_parameter_given_twice_is_refused() -> None:
    """`-p name=糖尿病 -p name=2型糖尿病` answered for the last name only, as if the first were not asked."""
    with pytest.raises(DataFormatError, match=r"-p name is given twice \('糖尿病', '2型糖尿病'\)"):
        parse_params(["name=糖尿病", "name=2型糖尿病"])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["query", "--cookbook", "drugs-for-disease", "-p", "name="],
            "error: -p name= is empty. Give the text",
        ),
        (
            ["query", "--cookbook", "entities-by-name", "-p", "text=  "],
            "error: -p text= is empty. Give the text",
        ),
        (["view", " ", "--out", "x.html"], "error: no entity name given. Name one or give its key"),
        (
            ["query", "-c", "drugs-for-disease", "-p", "name=x", "-p", "limt=5"],
            "error: drugs-for-disease takes no -p limt.",
        ),
        (["query", "-c", "relation-summary", "-p", "name=x"], "error: relation-summary takes no -p name."),
        (
            ["query", "-c", "drugs-for-disease", "-p", "disease=糖尿病肾病"],
            "error: drugs-for-disease takes no -p disease. It takes -p name=...",
        ),
        (
            ["query", "-c", "evidence-for-relationship", "-p", "head_key=Drug:二甲双胍"],
            "error: evidence-for-relationship needs -p relation=... -p tail_key=...",
        ),
        (
            ["query", "-c", "drugs-for-disease", "-p", "name=x", "-p", "limit=-3"],
            "error: -p limit=-3: expected a whole number",
        ),
        (
            ["query", "-c", "relation-summary", "-p", "limit=abc"],
            "error: -p limit=abc: expected a whole number of rows, 1 or more. Give one",
        ),
        (
            ["query", "-c", "relation-summary", "-p", "limit=1.5"],
            "error: -p limit=1.5: expected a whole number",
        ),
        (
            ["query", " :param keys => ['Drug:acei']"],
            "error: :param is a Neo4j Browser command, not Cypher. Give",
        ),
    ],
)
def test_a_cookbook_mistake_is_refused_before_the_graph_is_asked(args: list[str], said: str) -> None:
    """An empty name would ask about `Disease:` and point to `-p text=`, and an empty text lists every entity;
    a misspelt parameter was left out without a word; a row limit that is no whole number failed as if the
    question's Cypher were wrong; a Browser command copied from docs/queries.md got the server's list of
    every Cypher keyword. Each is one line, before any server is asked (none answers there), and names the
    question as it is typed (`drugs-for-disease`, not the Python name `drugs_for_disease`)."""
    done = CliRunner().invoke(app, args, env={"NEO4J_URI": "bolt://127.0.0.1:1"})
    assert done.exit_code == 1 and done.stderr.startswith(said) and len(done.stderr.splitlines()) == 1, (
        done.output
    )
