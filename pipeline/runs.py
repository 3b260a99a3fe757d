"""The run folder: Parquet intermediates and a summary, written atomically so a run can resume.

    runs/<run-id>/manifest.parquet  sentences.parquet  triples.parquet
                  entities.parquet  relations.parquet  summary.json

The folder records what a run did (and, for a run that stopped, how far it got: `summary.json` has
`status` `failed` or `interrupted`); resuming is `pipeline.ingest`'s: documents already loaded are
skipped. Each file is written to a temporary name and renamed into place, so a file that exists is
complete.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from nrskg.errors import PipelineError

SUMMARY = "summary.json"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique id: UTC time to the microsecond, so that runs started in the same second still sort
    in the order they started, plus a random suffix for runs started at once."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(3)}"


def create_run(root: Path | str, run_id: str | None = None) -> Path:
    """Make `root/<run-id>/` and return it; an existing run folder is never reused by accident."""
    run_dir = Path(root) / (run_id or new_run_id())
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError as e:
        raise PipelineError(f"{run_dir}: run folder already exists; resume it instead of creating it") from e
    except OSError as e:
        raise PipelineError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from e
    return run_dir


def run_folders(root: Path | str) -> list[Path]:
    """The run folders under `root`, newest first (run ids sort by time)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)


def _atomic_write(path: Path, write: Any) -> Path:
    """Call `write(tmp_path)`, then rename over `path`: readers see the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise PipelineError(f"{path}: cannot write ({e.strerror or e})") from e
    except (TypeError, ValueError) as e:  # pyarrow's ArrowTypeError / ArrowInvalid: a column it cannot store
        raise PipelineError(f"{path}: cannot store this table ({e})") from e
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_table(run_dir: Path | str, name: str, frame: pd.DataFrame) -> Path:
    """Write `<name>.parquet` in the run folder, atomically."""
    return _atomic_write(Path(run_dir) / f"{name}.parquet", lambda tmp: frame.to_parquet(tmp, index=False))


def write_summary(run_dir: Path | str, summary: dict[str, Any]) -> Path:
    """Write `summary.json` (counts and timings), atomically; this marks the run as loaded unless its
    `status` says it stopped (then it records why and how far the run got)."""
    text = json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return _atomic_write(Path(run_dir) / SUMMARY, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def read_summary(run_dir: Path | str) -> dict[str, Any]:
    path = Path(run_dir) / SUMMARY
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise PipelineError(f"{path}: missing; the run has not finished loading") from e
    except (OSError, json.JSONDecodeError) as e:
        raise PipelineError(f"{path}: unreadable summary ({e})") from e
