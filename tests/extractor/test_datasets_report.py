"""`nrskg data stats` and the report behind it, on a miniature shared-data folder built from the fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractor.datasets.report import ENV_ROOT, data_root, format_report, shared_data_report
from flows.cli import app
from nrskg.errors import DataFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"


@pytest.fixture
def mini_root(tmp_path: Path) -> Path:
    """The shared/data layout with one small fixture per data set."""
    layout = {
        "diakg/7.json": "diakg/train/7.json",
        "ruijin/12_3.txt": "ruijin_round2/train/12_3.txt",
        "ruijin/12_3.ann": "ruijin_round2/train/12_3.ann",
        "spo/cmeie.jsonl": "cmeie/train.jsonl",
        "spo/duie.jsonl": "duie/train.jsonl",
    }
    for source, target in layout.items():
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / source, tmp_path / target)
    return tmp_path


def test_report_has_counts_oracle_recall_and_reach_per_data_set(mini_root: Path) -> None:
    report = shared_data_report(mini_root)
    assert list(report) == ["DiaKG", "Ruijin", "CMeIE", "DuIE"]
    assert (report["DiaKG"]["triples"], report["DiaKG"]["entities"]) == (3, 6)
    assert report["DiaKG"]["oracle"]["recall"] == 1.0  # type: ignore[index]
    assert report["Ruijin"]["triples"] == 3 and report["Ruijin"]["reach"][128] == (3, 3)  # type: ignore[index]
    assert report["DuIE"]["notes"]["mentions_not_found"] == 1  # type: ignore[index]
    text = format_report(report)
    assert text.count("ORACLE RECALL (characters)") == 4
    assert "reach of 512-char windows" in text and "mentions not found" in text


def test_data_root_prefers_the_option_then_the_environment(
    monkeypatch, mini_root: Path, tmp_path: Path
) -> None:
    assert data_root(mini_root) == mini_root
    monkeypatch.setenv(ENV_ROOT, str(mini_root))
    assert data_root() == mini_root
    monkeypatch.setenv(ENV_ROOT, str(tmp_path / "nowhere"))
    with pytest.raises(DataFormatError, match="shared data folder not found; pass --root DIR or set"):
        data_root()


def test_cli_prints_json_and_fails_cleanly_without_data(mini_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["data", "stats", "--root", str(mini_root), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["CMeIE"]["documents"] == 2 and figures["DuIE"]["triples"] == 4
    result = runner.invoke(app, ["data", "stats", "--root", str(tmp_path / "absent")])
    assert result.exit_code == 1
    assert "shared data folder not found" in result.output
