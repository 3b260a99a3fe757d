"""`nrskg train`: train NRS-OneRel on a data set and write a checkpoint directory.

Its training options are not written here: one per setting of `TrainConfig` and its model config
(`extractor.configuration.settable`), with the type, default and help declared there.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import typer

from extractor.configuration import (
    TrainConfig,
    defaults_for,
    parse_settings,
    settable,
    setting_types,
    with_settings,
)
from extractor.datasets import FORMATS
from extractor.datasets.corpora import Corpus
from extractor.encoders import TINY
from extractor.model import CONFIG_NAME
from extractor.train import train
from flows.cli._app import app, cli_errors


def setting_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a typer command one `--name` option per training setting; the command receives the ones given
    as `settings`, typed and checked (`parse_settings`)."""
    hints = get_type_hints(command, include_extras=True)  # the command's own options, annotations resolved
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
        if p.name != "settings"
    ]
    options = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_option(name, kind))
        for name, kind in setting_types().items()
    ]

    @functools.wraps(command)
    def wrapper(**arguments: Any) -> None:
        given = {name: arguments.pop(name) for name in settable()}
        if given["relation_aliases"]:  # repeated OLD=NEW options
            given["relation_aliases"] = ";".join(given["relation_aliases"])
        command(settings=parse_settings({k: v for k, v in given.items() if v is not None}), **arguments)

    wrapper.__signature__ = inspect.Signature(own + options)  # type: ignore[attr-defined]
    return wrapper


def _option(name: str, kind: Any) -> Any:
    """The typer annotation of a setting's option: its own type where click has one, else text that
    `parse_settings` reads (a Literal's choices, `int | None`, a mapping as repeated OLD=NEW)."""
    base = TrainConfig()
    default = getattr(base.model, name) if hasattr(base.model, name) else getattr(base, name)
    help = f"{settable()[name].metadata['help']} (default {default if default != {} else 'none'})"
    flag = f"--{name.replace('_', '-')}"
    if get_origin(kind) is dict:
        return Annotated[list[str] | None, typer.Option(flag, help=help, show_default=False)]
    if kind is bool:
        return Annotated[bool | None, typer.Option(f"{flag}/--no-{flag[2:]}", help=help, show_default=False)]
    if kind in (int, float, str):
        return Annotated[kind | None, typer.Option(flag, help=help, show_default=False)]
    if get_origin(kind) is Literal:
        help = help.replace("(default", f"One of {', '.join(get_args(kind))} (default")
    return Annotated[str | None, typer.Option(flag, help=help, show_default=False)]


@app.command("train")
@cli_errors
@setting_options
def train_cli(
    data: Annotated[Path, typer.Option("--data", help="A data file or folder: the corpus validated on.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write.")],
    encoder: Annotated[
        str, typer.Option("--encoder", help="A local HF directory, a cached hub id, or 'tiny'.")
    ] = TINY,
    extra: Annotated[
        list[str] | None,
        typer.Option(
            "--extra", help="FORMAT:PATH of another corpus to train on, not to validate; repeatable."
        ),
    ] = None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Train and keep the checkpoint with the best validation F1; unset settings take the encoder kind's
    defaults (the tiny random encoder has its own)."""
    config = with_settings(defaults_for(encoder), **(settings or {}))
    try:
        result = train(data, fmt, encoder, out, config, extra=[Corpus.parse(spec) for spec in extra or []])
    except KeyboardInterrupt:
        if (Path(out) / CONFIG_NAME).is_file():
            typer.echo(
                f"{out}: the best weights so far, with no calibrated minimum confidence: `--model` takes "
                "them, `nrskg models register` does not; train into a new folder for a model to register",
                err=True,
            )
        raise
    typer.echo(
        f"{result.out_dir}: model {result.model_version}, best F1 {result.best_val_f1:.4f} "
        f"({result.metrics['selected_on']}), train F1 {result.train_f1:.4f}, "
        f"{result.steps} steps in {result.wall_time_s:.1f} s; "
        f"default min confidence {result.metrics['min_confidence']['min_confidence']:g}"
    )
