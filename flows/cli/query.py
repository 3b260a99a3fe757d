"""`nrskg query "CYPHER"`: a clinician's read-only query, printed as a table or JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from flows.cli._app import app, cli_errors
from graph.connection import driver
from graph.read import format_table, read_table
from graph.settings import Neo4jSettings
from nrskg.errors import DataFormatError


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`k=v` pairs; a value that parses as JSON (5, 0.9, true, ["a","b"]) is typed, anything else a string."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise DataFormatError(f"--param {pair!r}: expected NAME=VALUE")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


@app.command("query")
@cli_errors
def query_cli(
    cypher: str = typer.Argument(..., help="A reading Cypher query; writes are refused."),
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Query parameter NAME=VALUE (repeatable).")
    ] = None,
    limit: int | None = typer.Option(None, "--limit", min=1, help="Most rows to print (default: settings)."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.001, help="Server-side limit in seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Run CYPHER in a READ transaction on NEO4J_URI with a timeout and a row limit."""
    settings = Neo4jSettings.from_env(row_limit=limit, query_timeout_s=timeout)
    with driver(settings) as drv:
        result = read_table(
            drv,
            cypher,
            parse_params(param or []),
            timeout=settings.query_timeout_s,
            limit=settings.row_limit,
            database=settings.database,
        )
    if as_json:
        payload = {"columns": result.columns, "rows": result.rows, "truncated": result.truncated}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(format_table(result))
