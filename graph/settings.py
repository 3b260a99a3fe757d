"""Where the graph lives and how hard we may lean on it, typed in one place.

The same settings reach the local server that `graph.server` starts, a hospital's Neo4j server, Aura or a
cluster: switching between them is only `NEO4J_URI`, `NEO4J_USER` (or `NEO4J_USERNAME`), `NEO4J_PASSWORD` and
`NEO4J_DATABASE`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from nrskg.errors import PermanentGraphError

DEFAULT_URI = "bolt://127.0.0.1:7687"
"""The local server of `nrskg neo4j start`: Bolt on loopback, direct (no routing, no TLS)."""

ENV_VARIABLES = {
    "uri": "NEO4J_URI",
    "user": "NEO4J_USER",
    "password": "NEO4J_PASSWORD",
    "database": "NEO4J_DATABASE",
}
USERNAME_ALIAS = "NEO4J_USERNAME"
"""What Aura's downloaded credentials file, the Neo4j docs and neo4j-graphrag call NEO4J_USER."""


class Neo4jSettings(BaseModel):
    """Connection and workload limits; `password` is a SecretStr: never shown in repr, logs or tracebacks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: str = DEFAULT_URI
    user: str = "neo4j"
    password: SecretStr | None = Field(default=None, description="None: connect without authentication.")
    database: str = Field(
        default="neo4j", description="Named explicitly so the driver skips home-db resolution."
    )
    batch_size: int = Field(default=1000, gt=0, description="Rows per UNWIND batch in one write transaction.")
    query_timeout_s: float = Field(default=30.0, gt=0, description="Server-side limit for one read query.")
    row_limit: int = Field(default=1000, gt=0, description="Most rows a clinician query returns.")
    connect_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Give up on a server that does not accept a connection (driver: 30 s).",
    )
    transaction_retry_s: float = Field(
        default=5.0,
        ge=0,
        description="How long the driver retries a transaction on transient errors (driver default: 30 s).",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Neo4jSettings:
        """Settings from `NEO4J_*` variables (empty ones ignored; `NEO4J_USERNAME` is `NEO4J_USER` too), then
        `overrides` (None values ignored).

        Without a password, a URI that names the running local server of `nrskg neo4j start` (its data
        directory from `NRSKG_NEO4J_HOME`) gets the password that server stored, like libpq's ~/.pgpass: the
        CLI and the flows connect without anyone typing it.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[name] for field, name in ENV_VARIABLES.items() if environ.get(name, "").strip()
        }
        alias = environ.get(USERNAME_ALIAS, "").strip()
        if alias and values.get("user", alias) != alias:
            raise PermanentGraphError(
                f"NEO4J_USER ({values['user']!r}) and {USERNAME_ALIAS} ({alias!r}) disagree",
                hint="Set only one of them",
            )
        if alias:
            values["user"] = environ[USERNAME_ALIAS]
        values.update({key: value for key, value in overrides.items() if value is not None})
        settings = cls(**values)
        if settings.password is not None:
            return settings
        from graph import server  # imported here: graph.server builds on this module

        password = server.local_password(settings.uri, server.default_data_dir(environ))
        return settings.model_copy(update={"password": password}) if password else settings

    def auth(self) -> tuple[str, str] | None:
        """The driver's basic-auth pair, or None when no password is set (a local server with auth off)."""
        if self.password is None:
            return None
        return (self.user, self.password.get_secret_value())
