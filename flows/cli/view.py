"""`nrskg view NAME --out FILE.html`: an entity's neighbourhood as a self-contained interactive page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli._app import app, cli_errors


@app.command("view")
@cli_errors
def view_cli(
    name: Annotated[
        str,
        typer.Argument(
            help="An entity's name (any type; case, width and simplified or traditional characters do not "
            "matter), or its key as queries print it (Drug:二甲双胍)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
    entity_type: Annotated[
        str | None, typer.Option("--type", help="Only the entity of this type, e.g. Disease (any case).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most relationships to draw.")] = 60,
    evidence: Annotated[
        int, typer.Option("--evidence", min=0, help="Evidence sentences per relationship.")
    ] = 3,
) -> None:
    """Draw NAME's relationships, their confidence and evidence sentences (on hover) into one HTML file."""
    from graph.connection import driver, missing_password_named
    from graph.neighbourhood import entities_named, read_neighbourhood
    from graph.queries import find_names_hint
    from graph.read import counted
    from graph.settings import Neo4jSettings
    from graph.view import render_html
    from nrskg.errors import DataFormatError, GraphError
    from pipeline.keys import name_forms, normalise_name, split_key

    if not normalise_name(name):
        raise DataFormatError(
            "no entity name given",
            hint="Name one or give its key, e.g. `nrskg view 糖尿病肾病 --out kidney.html`",
        )
    settings = Neo4jSettings.from_env()
    with missing_password_named(settings), driver(settings) as drv:
        read = {"timeout": settings.query_timeout_s, "database": settings.database}
        named = entities_named(drv, name_forms(name), **read)
        key = split_key(name)
        if not named and key is not None:  # a key copied from a query's `key` column
            entity_type, name = entity_type or key[0], key[1]
            named = entities_named(drv, name_forms(name), **read)
        centres = [c for c in named if entity_type is None or c.type.casefold() == entity_type.casefold()]
        if named and not centres:
            types = ", ".join(dict.fromkeys(c.type for c in named))  # 二甲双胍 and 二甲雙胍: one Drug
            raise GraphError(
                f"no entity named {name!r} of type {entity_type}; the graph has it as {types}",
                hint=f"Ask for one of those by its key, e.g. `nrskg view {named[0].key}`, or give no type",
            )
        if not centres:
            raise GraphError(f"no entity named {name!r}; " + find_names_hint(normalise_name(name)))
        neighbourhood = read_neighbourhood(drv, centres, limit=limit, evidence=evidence, **read)
    title = " / ".join(f"{c.name} ({c.type})" for c in centres)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_html(neighbourhood, title), encoding="utf-8")
    except OSError as e:  # a folder, a file in the way of the folder, no permission: the user's to fix
        raise DataFormatError(
            f"--out {out}: cannot write the page ({e.strerror or e})",
            hint="Name an HTML file in a folder you can write, e.g. --out kidney.html",
        ) from e
    nodes, edges = len(neighbourhood.nodes), len(neighbourhood.edges)
    shown = f"{counted(nodes, 'entity', 'entities')}, {counted(edges, 'relationship')}"
    if neighbourhood.truncated:  # as `nrskg query` says a cut answer: the picture is not all there is
        shown += " (the strongest; more with --limit)"
    typer.echo(f"{out}: {shown} around {title}; open it in a browser")
