"""Files the local server keeps in its cache and data folders: a lock between processes, stamps that say
whether an output is still fresh, and the last lines of a log for an error message."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from pathlib import Path

LOG_TAIL_LINES = 25


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two processes never resolve, compile or start the same thing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
