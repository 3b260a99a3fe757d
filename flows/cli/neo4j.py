"""`nrskg neo4j start|stop|status|prefetch`: the local Neo4j server (see graph.server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli._app import cli_errors, neo4j_app
from graph import launcher, passwords, process, server
from graph.settings import MEMORY_OPTIONS, MEMORY_VARIABLES, ServerMemory
from nrskg.errors import GraphError

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Store, pid file and log.",
        show_default="$NRSKG_NEO4J_HOME or ~/.local/share/nrskg/neo4j",
    ),
]


def _size(field: str) -> typer.models.OptionInfo:
    """A size option (512m, 2g): help from ServerMemory's description, default from its variable."""
    return typer.Option(
        MEMORY_OPTIONS[field],
        help=ServerMemory.model_fields[field].description,
        show_default=f"${MEMORY_VARIABLES[field]}",
    )


def _describe(info: process.ServerInfo) -> str:
    browser = f", Browser {info.browser_url}" if info.browser_url else ""
    auth = f"auth on, password in {passwords.password_file(info.data_dir)}" if info.auth else "auth off"
    return f"Neo4j {info.version} at {info.uri} ({auth}{browser}; pid {info.pid}, log {info.log_file})"


@neo4j_app.command("start")
@cli_errors
def start_cli(
    data_dir: DataDirOption = None,
    port: Annotated[
        int, typer.Option("--port", min=1, max=process.MAX_PORT, help="Bolt port on 127.0.0.1.")
    ] = server.DEFAULT_BOLT_PORT,
    http_port: Annotated[
        int | None,
        typer.Option(
            "--http-port", min=1, max=process.MAX_PORT, help="Also serve HTTP and Neo4j Browser on this port."
        ),
    ] = None,
    auth: Annotated[
        bool,
        typer.Option(
            "--auth/--no-auth",
            help="Require the password of user neo4j: $NEO4J_PASSWORD or one generated at the first "
            "start, kept in DATA_DIR/nrskg-neo4j.password (mode 0600) where the CLI and flows find it. "
            "--no-auth lets every local user read and write the graph.",
        ),
    ] = True,
    heap: Annotated[str | None, _size("heap")] = None,
    pagecache: Annotated[str | None, _size("pagecache")] = None,
    transaction_max: Annotated[str | None, _size("transaction_max")] = None,
    transaction_total_max: Annotated[str | None, _size("transaction_total_max")] = None,
) -> None:
    """Start the local Neo4j (or find it running) and print its URI once Bolt answers.

    A query that needs more memory than a transaction may hold fails alone, and the server stays up.
    """
    memory = ServerMemory.from_env(
        heap=heap,
        pagecache=pagecache,
        transaction_max=transaction_max,
        transaction_total_max=transaction_total_max,
    )
    info = server.start(data_dir, port, http_port, auth=auth, memory=memory)
    typer.echo(info.uri)
    typer.echo(_describe(info), err=True)
    advice = server.http_advice(info, http_port) if http_port is not None else None
    if advice and info.http_port is None:
        raise GraphError(advice)  # the Browser asked for is not there: say how to get it, and fail
    if advice:
        typer.echo(advice, err=True)


@neo4j_app.command("stop")
@cli_errors
def stop_cli(data_dir: DataDirOption = None) -> None:
    """Stop the local Neo4j cleanly (SIGTERM; SIGKILL only if it hangs)."""
    info = server.stop(data_dir)
    typer.echo(f"stopped {_describe(info)}" if info else "Neo4j was not running")


@neo4j_app.command("status")
@cli_errors
def status_cli(data_dir: DataDirOption = None) -> None:
    """Say whether the local Neo4j runs; exit code 3 when it does not (like `systemctl status`)."""
    info = process.status(data_dir)
    if info is None:
        typer.echo("Neo4j is not running")
        raise typer.Exit(code=3)
    typer.echo(f"running: {_describe(info)}")


@neo4j_app.command("prefetch")
@cli_errors
def prefetch_cli() -> None:
    """Download Neo4j's jars (once) and compile the launcher, so later starts work offline."""
    typer.echo(launcher.prefetch())
