"""`nrskg query "CYPHER"`, `--cookbook NAME`, `--list`: a clinician's read-only query, as a table or JSON."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Annotated, Any

import typer

from flows.cli._app import app, cli_errors
from graph.connection import driver, missing_password_named
from graph.queries import (
    COOKBOOK,
    RELATIONSHIP_PARAMS,
    cookbook_query,
    find_names_hint,
    missing_relationship_note,
    unknown_entities,
)
from graph.read import format_table, read_table
from graph.settings import Neo4jSettings
from nrskg.errors import DataFormatError
from pipeline.keys import KEY_SEPARATOR, cookbook_parameters


def parse_params(pairs: list[str], text: Collection[str] = ()) -> dict[str, Any]:
    """`k=v` pairs; a value that parses as JSON (5, 0.9, true, ["a","b"]) is typed, anything else a string,
    but the parameters named in `text` keep the value as typed (a name `1.50` is not the number 1.5). A name
    given twice is refused."""
    params: dict[str, Any] = {}
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        name = key.strip()
        if not sep or not name:
            raise DataFormatError(f"--param {pair!r}: expected NAME=VALUE")
        if name in given:  # the last would win silently: an answer about one of the two values asked
            raise DataFormatError(
                f"-p {name} is given twice ({given[name]!r}, {raw!r})",
                hint="Give each parameter once; ask about another value in a second query",
            )
        given[name] = raw
        try:
            params[name] = raw if name in text else json.loads(raw)
        except json.JSONDecodeError:
            params[name] = raw
    return params


def cookbook_listing() -> str:
    """`nrskg query --list`: each cookbook question with its name and the parameters it takes."""
    lines = []
    for q in COOKBOOK:
        params = " ".join(f"-p {p}=..." for p in q.params if p != "limit")
        lines.append(f"{q.command_name:<28} {q.question}")
        lines.append(f"{'':<28} nrskg query --cookbook {q.command_name} {params}".rstrip())
    return "\n".join(lines)


@app.command("query")
@cli_errors
def query_cli(
    cypher: str | None = typer.Argument(None, help="A reading Cypher query; writes are refused."),
    cookbook: str | None = typer.Option(
        None, "--cookbook", "-c", help="Run a cookbook question by name instead (see --list)."
    ),
    list_cookbook: bool = typer.Option(False, "--list", help="Name the cookbook questions and stop."),
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Query parameter NAME=VALUE (repeatable).")
    ] = None,
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Most rows to print, and $limit unless -p gives it (default 1000)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.001, help="Server-side limit in seconds (default 30)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Run CYPHER, or a --cookbook question, read-only on NEO4J_URI with a timeout and a row limit.

    Cookbook names, keys and texts match as the graph stores them: `acei`, `ACEI` and `ＡＣＥＩ` alike, and
    in simplified or traditional characters (`二甲雙胍` finds `二甲双胍`).
    """
    if list_cookbook:
        typer.echo(cookbook_listing())
        return
    cypher = cypher if cypher is None or cypher.strip() else None  # "" is no query, not a syntax error
    if (cypher is None) == (cookbook is None):
        raise DataFormatError("give a Cypher query or --cookbook NAME (`nrskg query --list` names them)")
    if cypher is not None and cypher.lstrip().startswith(":"):  # `:param`, `:auto` copied from Browser's way
        raise DataFormatError(
            f"{cypher.split()[0]} is a Neo4j Browser command, not Cypher",
            hint="Give parameters with -p NAME=VALUE and run the query alone",
        )
    settings = Neo4jSettings.from_env(row_limit=limit, query_timeout_s=timeout)
    # $limit asks for one row more than is printed: a query that ends with LIMIT $limit would otherwise stop
    # exactly at the row limit, and a cut answer would read as the whole one.
    asked = settings.row_limit + 1
    about: list[list[str]] = []  # the entities a cookbook question names, each as the keys it may have
    one_relationship = False  # a question about one relationship between two entities
    if cookbook is None:
        params = {"limit": asked, **parse_params(param or [])}
    else:
        query = cookbook_query(cookbook)
        given = parse_params(param or [], text=[lookup.param for lookup in query.lookups])
        cypher, params = query.cypher, cookbook_parameters(query, given, asked)
        about = query.entity_keys(params)
        one_relationship = RELATIONSHIP_PARAMS <= query.params.keys()
    read = {"timeout": settings.query_timeout_s, "database": settings.database}
    with missing_password_named(settings), driver(settings) as drv:
        result = read_table(drv, cypher, params, limit=settings.row_limit, **read)
        unknown = unknown_entities(drv, about, **read) if not result.rows else []
        notes = [
            f"no entity {key} in the graph, so no answer; {find_names_hint(key.partition(KEY_SEPARATOR)[2])}"
            for key in unknown
        ]
        if not result.rows and not unknown and one_relationship:
            notes.append(missing_relationship_note(drv, params, **read))
    if as_json:
        payload = {"columns": result.columns, "rows": result.rows, "truncated": result.truncated}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(format_table(result))
    for note in notes:
        typer.echo(f"note: {note}", err=True)
