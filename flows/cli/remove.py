"""`nrskg remove PATH...`: take documents out of the graph, such as files renamed or deleted since loaded.

A renamed file is a new document to ingest (its source is its identity), so the old one stays in the graph,
its evidence counted beside the new one's, until it is removed here; `--missing` finds those whose file is
gone, or whose record is no longer in its JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
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
from pipeline.reading import sources_in


def source_exists(source: str, read: Callable[[Path], set[str] | None]) -> bool:
    """Whether the input a document was read from is there: its file, or for one record of a JSON file
    (`/data/a.jsonl#L12`, `/data/a.jsonl#id=7`) that record in its file as `read` reads it now (a record
    deleted, or the old last `#L` line after a line above it went, is gone with its file still there). A `#`
    may be in the file's name or in the record's id (`#id=PMID#123`), so each split is tried."""
    if Path(source).exists():
        return True
    files = [Path(source[:i]) for i, c in enumerate(source) if c == "#" and Path(source[:i]).is_file()]
    return any((sources := read(file)) is None or source in sources for file in files)


def gone(documents: pd.DataFrame) -> pd.DataFrame:
    """The documents whose source file or record no longer exists (`.loc`: `frame[[]]` would pick no
    columns); each file is read once."""
    read = cache(sources_in)
    return documents.loc[[not source_exists(s, read) for s in documents["source"]]]


@app.command("remove")
@cli_errors
def remove_cli(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders as ingest was given them; they need not exist.")
    ],
    missing: Annotated[
        bool,
        typer.Option("--missing", help="Only documents whose file or JSON record is gone."),
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
