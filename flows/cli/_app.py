"""The typer app: command modules register on it; only this package turns errors into exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from flows.logs import configure_console
from nrskg.errors import NrskgError

app = typer.Typer(
    name="nrskg", help="Knowledge graphs from Chinese diabetes literature.", no_args_is_help=True
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
    """Print our own errors as one line and exit 1, like spaCy's `show_validation_error`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except NrskgError as e:
            typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from e

    return wrapper


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    configure_console(verbose)
