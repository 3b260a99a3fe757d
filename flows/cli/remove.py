"""`nrskg remove PATH...`: take documents out of the graph, such as files renamed or deleted since loaded.

A renamed file is a new document to ingest (its source is its identity), so the old one stays in the graph,
its evidence counted beside the new one's, until it is removed here; `--missing` finds those whose file is
gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from flows.cli._app import app, cli_errors, json_on_failure
from graph.connection import check, driver
from graph.documents import documents_from
from graph.settings import Neo4jSettings
from graph.types import WriteCounters
from graph.writer import remove_documents
from nrskg.errors import DataFormatError


def file_exists(source: str) -> bool:
    """Whether the file a document's source names is there: the source itself, or a file named by what comes
    before a `#` for one record of a JSON file (`/data/a.jsonl#L12`, `/data/a.jsonl#id=7`). A `#` may be in
    the file's name or in the record's id (`#id=PMID#123`), so each split is tried."""
    return Path(source).exists() or any(Path(source[:i]).is_file() for i, c in enumerate(source) if c == "#")


def gone(documents: pd.DataFrame) -> pd.DataFrame:
    """The documents whose source file no longer exists (`.loc`: `frame[[]]` would pick no columns)."""
    return documents.loc[[not file_exists(s) for s in documents["source"]]]


@app.command("remove")
@cli_errors
def remove_cli(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders as ingest was given them; they need not exist.")
    ],
    missing: Annotated[
        bool, typer.Option("--missing", help="Only documents whose file is gone (renamed or deleted).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Name the documents and remove nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Remove the documents read from PATHS (every document under a folder) with what they said: counts go
    down, and relationships and entities read nowhere else go. Re-ingesting a file loads it again."""
    with json_on_failure(as_json):
        sources, counters = _remove(paths, missing, dry_run)
    if as_json:
        done = {"would_remove" if dry_run else "removed": sources}
        graph = counters.model_dump() if counters else {}
        typer.echo(json.dumps(done | {"graph": graph}, ensure_ascii=False, indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo("\n".join([f"{verb} {len(sources)} documents", *(f"  {s}" for s in sources)]))
    if counters:
        typer.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counters.model_dump().items() if v))


def _remove(paths: list[Path], missing: bool, dry_run: bool) -> tuple[list[str], WriteCounters | None]:
    """The sources of the documents chosen, and what removing them changed (None: nothing removed)."""
    settings = Neo4jSettings.from_env()
    check(settings)
    resolved = [str(p.expanduser().resolve()) for p in paths]
    with driver(settings) as drv:
        found = documents_from(drv, resolved, settings.database)
        if found.empty and not missing:
            raise DataFormatError(
                f"no document in the graph was read from {', '.join(resolved)}. Name files or folders as "
                'ingest was given them; `nrskg query "MATCH (d:Document) RETURN d.source"` lists the sources'
            )
        chosen = gone(found) if missing else found
        counters = (
            None if dry_run or chosen.empty else remove_documents(drv, chosen["doc_id"], settings.database)
        )
    return chosen["source"].tolist(), counters
