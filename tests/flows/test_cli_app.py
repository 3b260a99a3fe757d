"""The `nrskg` app: every command is found through `COMMAND_MODULES`, and `nrskg query` starts without torch,
transformers or Prefect (a clinician's question must not wait for the model stack)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import flows.cli
from flows.cli import app
from flows.cli._app import COMMAND_MODULES
from graph import process, server
from graph.settings import ServerMemory
from tests.conftest import ROOT

HEAVY = ("torch", "transformers", "prefect")


def test_every_command_module_registers_exactly_the_commands_the_table_names() -> None:
    modules = [m.name for m in pkgutil.iter_modules(flows.cli.__path__) if not m.name.startswith("_")]
    for name in modules:
        importlib.import_module(f"flows.cli.{name}")
    commands = typer.main.get_group(app).commands
    assert set(commands) == set(COMMAND_MODULES)
    for name, command in commands.items():
        group = isinstance(command, typer.core.TyperGroup)
        callbacks = [c.callback for c in command.commands.values()] if group else [command.callback]
        assert {c.__module__ for c in callbacks} == {f"flows.cli.{COMMAND_MODULES[name]}"}, name
    assert set(COMMAND_MODULES.values()) == set(modules)


# Runs the real command in a fresh interpreter, then reports what it imported and how long the imports took.
PROBE = """
import json, sys, time
started = time.perf_counter()
from flows.cli import app
try:
    app(["query", "RETURN 1 AS x", "--json"], prog_name="nrskg")
except SystemExit as e:
    code = e.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print(json.dumps({"code": code, "heavy": heavy, "seconds": time.perf_counter() - started}), file=sys.stderr)
"""


@pytest.mark.neo4j
def test_query_answers_without_importing_the_model_stack(cli_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *HEAVY],
        env=cli_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    assert json.loads(done.stdout)["rows"] == [{"x": 1}]
    assert report["heavy"] == [], f"nrskg query imported {report['heavy']}"


def test_neo4j_start_asks_for_auth_unless_told_no_auth(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Option parsing only (the servers themselves run in tests/graph/test_server.py)."""
    asked: list[bool] = []

    def start(
        data_dir: Path | None, port: int, http_port: int | None, *, auth: bool, memory: ServerMemory
    ) -> process.ServerInfo:
        asked.append(auth)
        return process.ServerInfo(
            f"bolt://127.0.0.1:{port}", 1, tmp_path, port, http_port, auth, tmp_path / "log", "5.26"
        )

    monkeypatch.setattr(server, "start", start)
    runner = CliRunner()
    default = runner.invoke(app, ["neo4j", "start", "--data-dir", str(tmp_path)])
    opted_out = runner.invoke(app, ["neo4j", "start", "--data-dir", str(tmp_path), "--no-auth"])
    assert (default.exit_code, opted_out.exit_code) == (0, 0)
    assert asked == [True, False]
    assert f"auth on, password in {tmp_path}/nrskg-neo4j.password" in default.output
    assert "auth off" in opted_out.output
