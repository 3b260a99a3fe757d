"""Which module registers each command, so that running a command imports only its own module.

`nrskg query` must answer a clinician quickly; importing every command module first pulled in torch,
transformers and Prefect (7 s here) before the query reached the server. `LazyGroup` imports a command's
module the first time the command is looked up; `nrskg --help` still lists every command (importing them all).
"""

from __future__ import annotations

import importlib
import sys

import click
import typer
from typer.core import TyperGroup

# command name -> module of flows.cli that registers it (tests/flows/test_cli_app.py checks this table).
COMMAND_MODULES: dict[str, str] = {
    "data": "data",
    "demo": "run",
    "encoder": "encoder",
    "evaluate": "evaluate",
    "extract": "extract",
    "ingest": "run",
    "models": "models",
    "neo4j": "neo4j",
    "pretrain": "pretrain",
    "query": "query",
    "reextract": "run",
    "train": "train",
    "view": "view",
}


class LazyGroup(TyperGroup):
    """The top-level group: a command's module is imported on first use, then the group is rebuilt from the
    typer app so that it holds what the module registered."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and f"{__package__}.{module}" not in sys.modules:
            importlib.import_module(f"{__package__}.{module}")
            from flows.cli._app import app  # the app module names this class, so it is imported here

            self.commands.update(typer.main.get_group(app).commands)
        return super().get_command(ctx, cmd_name)
