"""Neo4jSettings: environment, overrides, and a password that never shows.

Passwords are compared as SecretStr, so a failing assertion prints `SecretStr('**********')`, never one.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from graph.settings import DEFAULT_URI, Neo4jSettings
from nrskg.errors import GraphError


def test_defaults_point_at_the_local_server_without_auth() -> None:
    settings = Neo4jSettings.from_env({})
    assert settings.uri == DEFAULT_URI == "bolt://127.0.0.1:7687"
    assert settings.database == "neo4j"
    assert settings.password is None and Neo4jSettings().auth() is None


def test_environment_then_overrides() -> None:
    env = {
        "NEO4J_URI": "neo4j+s://abc.databases.neo4j.io",
        "NEO4J_USER": "reader",
        "NEO4J_PASSWORD": "s3cret-pw",
        "NEO4J_DATABASE": "kg",
        "NEO4J_UNRELATED": "x",
    }
    settings = Neo4jSettings.from_env(env, batch_size=250, row_limit=None)
    assert (settings.uri, settings.user, settings.database) == (
        "neo4j+s://abc.databases.neo4j.io",
        "reader",
        "kg",
    )
    user, password = settings.auth() or ("", "")
    assert (user, SecretStr(password)) == ("reader", SecretStr("s3cret-pw"))
    assert settings.batch_size == 250
    assert settings.row_limit == Neo4jSettings().row_limit, "a None override keeps the default"


def test_blank_environment_values_are_ignored() -> None:
    assert Neo4jSettings.from_env({"NEO4J_URI": "  ", "NEO4J_PASSWORD": ""}) == Neo4jSettings()


def test_password_never_shows() -> None:
    settings = Neo4jSettings(password="s3cret-pw")
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "s3cret-pw" not in text


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        Neo4jSettings(batch_size=0)
    with pytest.raises(ValidationError, match="typo"):
        Neo4jSettings(typo=1)


@pytest.mark.parametrize("name", ["NEO4J_USER", "NEO4J_USERNAME"])
def test_user_comes_from_either_name_aura_and_graphrag_use_username(name: str) -> None:
    settings = Neo4jSettings.from_env({name: "analyst", "NEO4J_PASSWORD": "s3cret-pw"})
    assert settings.user == "analyst" and settings.password == SecretStr("s3cret-pw")
    both = Neo4jSettings.from_env({"NEO4J_USER": "analyst", "NEO4J_USERNAME": "analyst"})
    assert both.user == "analyst"


def test_user_names_that_disagree_are_refused() -> None:
    with pytest.raises(GraphError, match="NEO4J_USER .*'a'.* and NEO4J_USERNAME .*'b'.* disagree"):
        Neo4jSettings.from_env({"NEO4J_USER": "a", "NEO4J_USERNAME": "b"})
