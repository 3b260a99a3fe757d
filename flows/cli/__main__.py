"""`python -m flows.cli` is `nrskg`."""

from flows.cli import app

app(prog_name="nrskg")
