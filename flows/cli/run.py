"""`nrskg ingest`, `reextract`, `demo`: the Prefect flows in ephemeral mode (no Prefect server needed).

Before a flow starts, the commands check what would make it fail at once: Neo4j first (before torch and
Prefect are even imported, so a server that is down costs a second), then the model and the device.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from flows.cli._app import app, cli_errors, json_on_failure
from flows.cli._options import BatchSize, Device, MinConfidence
from flows.cli._prefect import PrefectApi, prefect_api_in_background
from graph.connection import check
from graph.process import MAX_PORT
from graph.server import DEFAULT_HTTP_PORT
from graph.settings import Neo4jSettings
from nrskg.contracts import DEFAULT_REGISTRY
from nrskg.errors import ModelError
from pipeline.reading import check_corpus
from pipeline.settings import ReadSettings

Registry = Annotated[
    str | None,
    typer.Option(
        "--registry",
        help=f"Model registry folder whose current model is used (default: {DEFAULT_REGISTRY}); "
        "not with --model.",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="A model directory, used instead of the current model of the registry (which is then not read); "
        "not with --registry.",
    ),
]
RunsRoot = Annotated[str, typer.Option("--runs-root", "--runs", help="Where run folders go.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def table_lines(rows: list[tuple[str, str]]) -> list[str]:
    """`what  value` lines, indented, the values aligned in one column."""
    width = max((len(name) for name, _ in rows), default=0)
    return [f"  {name:<{width}}  {value}".rstrip() for name, value in rows]


@app.command("ingest")
@cli_errors
def ingest_cli(
    corpus: Annotated[Path, typer.Argument(help="A corpus folder or a single file.")],
    model: Model = None,
    registry: Registry = None,
    runs_root: RunsRoot = "runs",
    device: Device = "auto",
    batch_size: BatchSize = 0,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Chunks extracted in parallel (local Dask processes).")
    ] = 1,
    min_confidence: MinConfidence = None,
    as_json: AsJson = False,
) -> None:
    """Read, split, extract, deduplicate and load a corpus into Neo4j (NEO4J_URI, default: local)."""
    with json_on_failure(as_json):
        registry = _registry(model, registry)
        check_corpus(corpus, ReadSettings())  # before Neo4j is asked anything
        prefect = _check_first(model, registry, device)
        from flows.ingest import with_dask

        prefect.join()
        summary = with_dask(workers)(
            str(corpus), model, registry, runs_root, device, batch_size, workers=workers,
            min_confidence=min_confidence,
        )  # fmt: skip
    from pipeline.summary import summary_rows

    if as_json:
        typer.echo(json.dumps(asdict(summary), ensure_ascii=False, indent=2))
    else:
        typer.echo("\n".join(table_lines(summary_rows(summary))))


@app.command("reextract")
@cli_errors
def reextract_cli(
    model: Model = None,
    registry: Registry = None,
    doc_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--doc-id",
            help="Only these documents (repeatable): a source as ingest read it (a file path, path#L12, "
            "path#id=ID, a folder for every document under it) or a doc_id. One the graph does not hold "
            "is an error.",
        ),
    ] = None,
    device: Device = "auto",
    batch_size: BatchSize = 0,
    min_confidence: MinConfidence = None,
    as_json: AsJson = False,
) -> None:
    """Re-extract, with the current model, documents an older model version or another minimum confidence
    loaded; stale triples go."""
    with json_on_failure(as_json):
        registry = _registry(model, registry)
        prefect = _check_first(model, registry, device)
        from flows.reextract import reextract

        prefect.join()
        summary = reextract(model, registry, doc_ids, device, batch_size, min_confidence=min_confidence)
    if as_json:
        typer.echo(json.dumps(asdict(summary), ensure_ascii=False, indent=2))
        return
    values = {k: v for k, v in asdict(summary).items() if k != "graph"} | summary.graph
    typer.echo("\n".join(table_lines([(k.replace("_", " "), str(v)) for k, v in values.items()])))


def _registry(model: str | None, registry: str | None) -> str:
    """The registry to pass on (read only without `model`): giving both says two things about which model to
    run, so it is refused rather than one of them ignored."""
    if model is not None and registry is not None:
        raise ModelError(
            f"--model {model} and --registry {registry} both name the model to run",
            hint="Give one of them: --model DIR for that directory, --registry FOLDER for its current model",
        )
    return registry or DEFAULT_REGISTRY


def _check_first(model: str | None, registry: str, device: str) -> PrefectApi:
    """Neo4j, then the model and device; the Prefect server the flow needs starts meanwhile (join the thread
    returned before running the flow). A Neo4j that does not answer fails before anything else starts."""
    check(Neo4jSettings.from_env())
    prefect = prefect_api_in_background()
    from pipeline.preflight import check_model  # imports torch: after the quick Neo4j check

    check_model(model, registry, device)
    return prefect


@app.command("demo")
@cli_errors
def demo_cli(
    retrain: Annotated[bool, typer.Option("--retrain", help="Train a new model even if one exists.")] = False,
    http_port: Annotated[
        int,
        typer.Option(
            "--http-port", min=1, max=MAX_PORT, help="Port of Neo4j Browser on 127.0.0.1 (local Neo4j only)."
        ),
    ] = DEFAULT_HTTP_PORT,
) -> None:
    """The main job on the embedded default: local Neo4j with Browser, the project's sample, two answers."""
    prefect = prefect_api_in_background()
    from flows.demo import DemoSettings, demo, next_rows, summary_rows
    from graph.read import format_table

    prefect.join()
    result = demo(DemoSettings(http_port=http_port), retrain=retrain)
    typer.echo("\nSummary\n" + "\n".join(table_lines(summary_rows(result))))
    for question, answer in result.answers.items():
        typer.echo(f"\n{question}\n{format_table(answer)}")
    typer.echo("\nNext\n" + "\n".join(table_lines(next_rows(result))))
