"""The run folder: Parquet intermediates and a summary, written atomically so a run can resume.

    runs/<run-id>/manifest.parquet  sentences.parquet  triples.parquet
                  entities.parquet  relations.parquet  summary.json

The folder records what a run did (and, for a failed run, how far it got: `summary.json` has
`status: failed`); resuming is the ingest flow's: documents already loaded are skipped, and the
failed chunk's extraction comes from Prefect's result cache. Each file is written to a temporary
name and renamed into place, so a file that exists is complete.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nrskg.contracts import FAILED_PREFIX, LOADED, NEW, NOT_REACHED, SKIPPED
from nrskg.errors import PipelineError

TABLES = ("manifest", "sentences", "triples", "entities", "relations")
SUMMARY = "summary.json"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique id: UTC time to the second plus a random suffix for runs in the same second."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


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


def latest_run(root: Path | str) -> Path | None:
    """The most recent run folder under `root` (run ids sort by time), or None."""
    root = Path(root)
    runs = (
        sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if root.is_dir()
        else []
    )
    return runs[-1] if runs else None


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


def _table_path(run_dir: Path | str, name: str) -> Path:
    if name not in TABLES:
        raise PipelineError(f"unknown run table {name!r}; expected one of {', '.join(TABLES)}")
    return Path(run_dir) / f"{name}.parquet"


def write_table(run_dir: Path | str, name: str, frame: pd.DataFrame) -> Path:
    """Write one of `TABLES` as `<name>.parquet` in the run folder, atomically."""
    return _atomic_write(_table_path(run_dir, name), lambda tmp: frame.to_parquet(tmp, index=False))


def read_table(run_dir: Path | str, name: str) -> pd.DataFrame:
    """Read one of `TABLES` back, with list cells as Python lists (Parquet returns numpy arrays)."""
    path = _table_path(run_dir, name)
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError as e:
        raise PipelineError(f"{path}: missing; the stage that writes it has not completed") from e
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise PipelineError(f"{path}: unreadable Parquet ({e})") from e
    for column in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
        frame[column] = frame[column].map(_plain)
    return frame


def _plain(value: Any) -> Any:
    """numpy arrays (and arrays of structs) from Parquet list columns back to lists of plain values."""
    if isinstance(value, np.ndarray):
        # Numeric arrays convert in C; only arrays of objects (structs, strings) need a look inside.
        return [_plain(v) for v in value.tolist()] if value.dtype == np.dtype(object) else value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def table_counts(
    manifest: pd.DataFrame,
    sentences: pd.DataFrame | None = None,
    triples: pd.DataFrame | None = None,
    entities: pd.DataFrame | None = None,
    relations: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The counts a run summary and its Prefect artifact report, as plain JSON-ready numbers.

    `documents` counts manifest rows by status (`seen` is all of them, `failed` all `failed:*`);
    `failures` breaks the failures down by kind. Tables not given are left out.
    """
    status = manifest["status"].astype(str)
    failed = status[status.str.startswith(FAILED_PREFIX)]
    counts: dict[str, Any] = {
        "documents": {
            "seen": len(manifest),
            **{s: int((status == s).sum()) for s in (NEW, SKIPPED, LOADED, NOT_REACHED)},
            "failed": len(failed),
        },
        "failures": {kind: int(n) for kind, n in sorted(failed.value_counts().items())},
    }
    for name, frame in (("sentences", sentences), ("triples", triples), ("entities", entities)):
        if frame is not None:
            counts[name] = len(frame)
    if relations is not None:
        counts["relations"] = len(relations)
        counts["evidence"] = int(relations["count"].sum()) if len(relations) else 0
    return counts


def write_summary(run_dir: Path | str, summary: dict[str, Any]) -> Path:
    """Write `summary.json` (counts and timings), atomically; this marks the run as loaded unless its
    `status` is `failed` (then it records the error and how far the run got)."""
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
