"""The typer app: command modules register on it; only this package turns errors into exit codes.

`nrskg query` must answer a clinician quickly; importing every command module first pulled in torch,
transformers and Prefect (7 s) before the query reached the server. So `LazyGroup` imports a command's module
the first time the command is looked up (`COMMAND_MODULES` says which), and `nrskg --help` still lists every
command (importing them all).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import NoReturn, ParamSpec, TypeVar

import click
import typer
from typer.core import TyperGroup

from flows.cli._failures import filter_console, silence_after_error
from flows.logs import configure_console
from nrskg.errors import NrskgError, interrupted

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
    "remove": "remove",
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
            self.commands.update(typer.main.get_group(app).commands)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="nrskg",
    help="Knowledge graphs from Chinese diabetes literature.",
    no_args_is_help=True,
    cls=LazyGroup,  # imports only the module of the command that runs
)
data_app = typer.Typer(help="Data sets: statistics and oracle recall.", no_args_is_help=True)
encoder_app = typer.Typer(help="Encoders that work offline.", no_args_is_help=True)
neo4j_app = typer.Typer(help="The local Neo4j server.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(encoder_app, name="encoder")
app.add_typer(neo4j_app, name="neo4j")

P = ParamSpec("P")
R = TypeVar("R")


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """End a failed command with one `error: <cause>. <what to do>` line on stderr and exit code 1, like
    spaCy's `show_validation_error`; the traceback only with `-v`. Errors not our own are bugs: say so."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # how a command ends on purpose (`nrskg neo4j status` exits 3 when the server is stopped)
        except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM
            _interrupted(e)
        except Exception as e:  # noqa: BLE001 - every failure ends in one line; -v shows the traceback
            if interrupted(e):  # raised while Ctrl-C was handled (the Prefect server it also stopped)
                _interrupted(e)
            verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
            if verbose:
                traceback.print_exc()
            silence_after_error()
            typer.secho(f"error: {error_message(e, verbose)}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from e

    return wrapper


def _interrupted(error: BaseException) -> NoReturn:
    """Ctrl-C or SIGTERM, or an error raised while one was handled: what was done is recorded (ingest), so
    one word suffices."""
    silence_after_error()
    typer.secho("interrupted", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=130) from error


def error_message(e: BaseException, verbose: bool) -> str:
    """The text of a failed command's `error:` line."""
    if isinstance(e, NrskgError):
        return str(e)
    where = "the traceback is above" if verbose else "run it again with -v for the traceback"
    return f"unexpected {type(e).__name__}: {e}. This is a bug in nrskg: {where}, and please report it"


@contextlib.contextmanager
def json_on_failure(as_json: bool) -> Iterator[None]:
    """With --json, a command that fails or is interrupted also prints an object on stdout, so a script that
    reads stdout always gets JSON: the summary of the run it stopped (where one began), `status` and the
    `error:` line's text."""
    try:
        yield
    except BaseException as e:
        if as_json and not isinstance(e, typer.Exit | click.exceptions.Exit):
            typer.echo(json.dumps(_stopped(e), ensure_ascii=False, indent=2))
        raise


def _stopped(error: BaseException) -> dict[str, object]:
    from pipeline.summary import FAILED, INTERRUPTED, record_of

    record, stopped_by_signal = record_of(error), interrupted(error)
    outcome = INTERRUPTED if stopped_by_signal else FAILED
    reason = INTERRUPTED if stopped_by_signal else error_message(error, verbose=False)
    return {**(asdict(record.summary) if record else {}), "status": outcome, "error": reason}


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logs and tracebacks.")) -> None:
    # SIGTERM (a scheduler, `timeout` or systemd stopping a run) ends a command as Ctrl-C does: the ingest
    # records where it stopped, and the temporary Prefect server is stopped at exit, not left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    configure_console(verbose)
    filter_console(verbose)  # after configure_console: it filters the console handler that call installs
