"""Where the graph lives and how hard we may lean on it, typed in one place.

The same settings reach the local server that `graph.server` starts, a hospital's Neo4j server, Aura or a
cluster: switching between them is only `NEO4J_URI`, `NEO4J_USER` (or `NEO4J_USERNAME`), `NEO4J_PASSWORD` and
`NEO4J_DATABASE`. `ServerMemory` sizes the local server alone (`NRSKG_NEO4J_*`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from graph.passwords import server_password
from graph.process import default_data_dir, status
from nrskg.errors import GraphError, PermanentGraphError

DEFAULT_URI = "bolt://127.0.0.1:7687"
"""The local server of `nrskg neo4j start` at its default port (Bolt on loopback, direct: no routing, no TLS),
where no NEO4J_URI is set and no local server runs."""

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
        description="Give up on a server that does not accept a connection or answer Bolt's handshake "
        "(driver: 30 s, and 60 s for the handshake).",
    )
    transaction_retry_s: float = Field(
        default=5.0,
        ge=0,
        description="How long the driver retries a transaction on transient errors (driver default: 30 s).",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Neo4jSettings:
        """Settings from `NEO4J_*` variables (empty ones ignored; `NEO4J_USERNAME` is `NEO4J_USER` too), then
        `overrides` (None values ignored). Without a URI, the running local server's, else `DEFAULT_URI`.

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
        data_dir = default_data_dir(environ)
        given_uri = "uri" in values
        running = None if given_uri else status(data_dir)
        if running is not None:  # the local server, on whatever port `nrskg neo4j start --port` gave it
            values["uri"] = running.uri
        settings = cls(**values)
        if settings.password is not None:
            return settings
        password = server_password(settings.uri, status(data_dir) if given_uri else running)
        return settings.model_copy(update={"password": password}) if password else settings

    def auth(self) -> tuple[str, str] | None:
        """The driver's basic-auth pair, or None when no password is set (a local server with auth off)."""
        if self.password is None:
            return None
        return (self.user, self.password.get_secret_value())


# --- the local server's memory ------------------------------------------------------------------------------

MIB = 1024**2
GIB = 1024**3
MEMORY_FIELDS = ("heap", "pagecache", "transaction_max", "transaction_total_max")
MEMORY_VARIABLES = {f: f"NRSKG_NEO4J_{f.upper()}" for f in MEMORY_FIELDS}  # NRSKG_NEO4J_HEAP, ...
MEMORY_OPTIONS = {f: f"--{f.replace('_', '-')}" for f in MEMORY_FIELDS}
"""`nrskg neo4j start` options (`--transaction-max`, ...), named in the advice when a query hits a limit."""
MEMORY_HINT = "Each transaction's limit must fit in the total, and the total in the heap"
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")


def parse_size(value: object) -> object:
    """`512m`, `2g`, `2GiB` or a number of bytes, as bytes (other values are left for pydantic to refuse)."""
    if not isinstance(value, str):
        return value
    found = _SIZE.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not a size (e.g. 512m, 2g)")
    return int(found.group(1)) * 1024 ** "_kmgt".index(found.group(2).lower() or "_")


Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]


def format_size(size: int) -> str:
    """Whole MiB as the JVM and Neo4j read them: `2944m`."""
    return f"{size // MIB}m"


def machine_memory() -> int:
    """What this process may use: physical memory, or the container's cgroup limit when lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = _CGROUP_LIMIT.read_text().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def default_heap(memory: int) -> int:
    """An eighth of the machine, 512 MiB to 8 GiB: the server shares the machine with the extractor."""
    return min(max(memory // 8 // MIB * MIB, 512 * MIB), 8 * GIB)


class ServerMemory(BaseModel):
    """The local server's JVM heap and page cache, and how much of the heap transactions may hold.

    Neo4j tracks what a transaction holds (rows it sorts, collects or writes) and fails the one that would
    pass `transaction_max`, or `transaction_total_max` for all of them together, so one greedy query fails
    alone; what it does not track ends in an OutOfMemoryError that fails that query's transaction too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    heap: Bytes = Field(description="JVM heap (-Xmx); default an eighth of the machine, 512 MiB to 8 GiB.")
    pagecache: Bytes = Field(default=256 * MIB, description="Neo4j's page cache for the store files.")
    transaction_max: Bytes = Field(description="db.memory.transaction.max; default a quarter of the heap.")
    transaction_total_max: Bytes = Field(
        description="dbms.memory.transaction.total.max; default 70 % of the heap, Neo4j's own share."
    )

    @model_validator(mode="before")
    @classmethod
    def _limits_from_heap(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        heap = parse_size(values.get("heap") or default_heap(machine_memory()))
        if not isinstance(heap, int):
            return values
        return {
            "transaction_max": heap // 4,
            "transaction_total_max": heap * 7 // 10,
            **{k: v for k, v in values.items() if v is not None},
            "heap": heap,
        }

    @model_validator(mode="after")
    def _limits_fit(self) -> ServerMemory:
        order = ("transaction_max", "transaction_total_max", "heap")
        for small, large in zip(order, order[1:], strict=False):
            if getattr(self, small) > getattr(self, large):
                raise ValueError(
                    f"{MEMORY_OPTIONS[small]} {format_size(getattr(self, small))} is more than "
                    f"{MEMORY_OPTIONS[large]} {format_size(getattr(self, large))}"
                )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerMemory:
        """Sizes from `overrides` (None values ignored), else `NRSKG_NEO4J_HEAP`, `..._PAGECACHE`,
        `..._TRANSACTION_MAX`, `..._TRANSACTION_TOTAL_MAX` (empty ones ignored), else from the machine."""
        environ = os.environ if environ is None else environ
        given = {f: environ[name] for f, name in MEMORY_VARIABLES.items() if environ.get(name, "").strip()}
        given.update({key: value for key, value in overrides.items() if value is not None})
        values = {}
        for field, value in given.items():
            try:
                values[field] = parse_size(value)
            except ValueError as e:
                raise GraphError(
                    f"{MEMORY_OPTIONS[field]} ({MEMORY_VARIABLES[field]}): {e}", hint="Give a size like 2g"
                ) from e
        try:
            return cls(**values)
        except ValidationError as e:
            error = e.errors()[0]
            field = MEMORY_OPTIONS.get(str(error["loc"][0])) if error["loc"] else None
            reason = f"{field + ': ' if field else ''}{error['msg'].removeprefix('Value error, ')}"
            raise GraphError(f"the local Neo4j's memory does not add up: {reason}", hint=MEMORY_HINT) from e
