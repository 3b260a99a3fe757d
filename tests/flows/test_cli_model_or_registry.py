"""`nrskg ingest` and `nrskg reextract` take the model from `--model DIR` or from `--registry`, never both."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from graph import process

runner = CliRunner()


@pytest.mark.parametrize("command", [["ingest", "corpus.txt"], ["reextract"]])
def test_model_and_registry_together_are_one_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`--model` won and `--registry` was ignored without a word; it is refused before Neo4j (none listens at
    NEO4J_URI here) is asked anything."""
    (tmp_path / "corpus.txt").write_text("二甲双胍治疗2型糖尿病。\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{process.free_port()}")
    args = [*command, "--model", "trained/v2", "--registry", "team-models"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "error: --model trained/v2 and --registry team-models both name the model" in result.output
    assert "Give one of them" in result.output, result.output


def test_model_alone_still_works_with_the_registry_at_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --registry, --model is no contradiction: the check goes on to Neo4j, which is down here."""
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{process.free_port()}")
    result = runner.invoke(app, ["reextract", "--model", str(tmp_path)])
    assert result.exit_code == 1 and "does not answer" in result.output, result.output
