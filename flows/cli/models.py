"""`nrskg models list|register|promote`: the model registry without the demo or a Prefect server."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from flows.cli._app import app, cli_errors
from nrskg.contracts import DEFAULT_REGISTRY

models_app = typer.Typer(
    help="The model registry: list, register a trained directory, promote.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

Registry = Annotated[Path, typer.Option("--registry", help="Model registry folder.")]


def _registry_option(registry: Path) -> str:
    """` --registry PATH` for a registry other than the default, so that the next command printed runs on the
    registry just written, not on `models/`."""
    return "" if registry == Path(DEFAULT_REGISTRY) else f" --registry {shlex.quote(str(registry))}"


def _f1(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@models_app.command("list")
@cli_errors
def list_cli(
    registry: Registry = Path(DEFAULT_REGISTRY),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Every registered version, oldest first; * marks the current one."""
    from extractor.registry import existing

    loaded = existing(registry)
    entries = sorted(loaded.versions.values(), key=lambda e: (e.registered_at, e.version))
    if as_json:
        payload = {"current": loaded.current, "versions": [vars(e) for e in entries]}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not entries:
        typer.echo(f"no models in {registry}: `nrskg train ... --out DIR`, then `nrskg models register DIR`")
        return
    typer.echo(f"  {'version':<28} {'val F1':>7} {'train F1':>8}  {'registered':<25}  path")
    for e in entries:
        mark = "*" if e.version == loaded.current else " "
        val, train = _f1(e.metrics.get("val_f1")), _f1(e.metrics.get("train_f1"))
        where = e.path if Path(e.path).is_dir() else f"{e.path} (missing)"
        typer.echo(f"{mark} {e.version:<28} {val:>7} {train:>8}  {e.registered_at:<25}  {where}")


@models_app.command("register")
@cli_errors
def register_cli(
    model_dir: Annotated[Path, typer.Argument(help="A directory written by `nrskg train --out DIR`.")],
    registry: Registry = Path(DEFAULT_REGISTRY),
    promote: Annotated[bool, typer.Option("--promote", help="Also make it the current model.")] = False,
) -> None:
    """Record a trained model directory in the registry; it stays where it is."""
    from extractor import registry as model_registry

    entry = model_registry.register(registry, model_dir)
    if promote:
        model_registry.promote(registry, entry.version)
        typer.echo(f"{entry.version}: registered in {registry} and now the current model")
    else:
        typer.echo(
            f"{entry.version}: registered in {registry}; "
            f"`nrskg models promote {entry.version}{_registry_option(registry)}` uses it"
        )


@models_app.command("promote")
@cli_errors
def promote_cli(
    version: Annotated[str, typer.Argument(help="A registered version (see `nrskg models list`).")],
    registry: Registry = Path(DEFAULT_REGISTRY),
) -> None:
    """Make VERSION the current model; `nrskg reextract` then updates what older versions loaded."""
    from extractor.registry import promote

    promote(registry, version)
    typer.echo(
        f"{version} is the current model in {registry}; "
        f"`nrskg reextract{_registry_option(registry)}` brings the graph up to it"
    )
