"""Files the local server keeps in its cache and data folders: stamps that say whether an output is still
fresh, and the last lines of a log for an error message."""

from __future__ import annotations

import hashlib
from pathlib import Path

LOG_TAIL_LINES = 25


def digest(*paths: Path) -> str:
    """What an output was made from: the sha256 of its inputs."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def fresh(marker: Path, stamp: str, *outputs: Path) -> bool:
    """The outputs exist and `marker` says they were made from `stamp`."""
    return marker.exists() and marker.read_text() == stamp and all(p.exists() for p in outputs)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
