"""Files the project writes: the mode a file for others to read gets, and a lock between processes.

Writers that go through a temporary file (`tempfile.mkstemp`, safetensors' own atomic save) create it 0600,
whatever the umask: a registry shared with its models would hold weights only their writer can read.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

DEFAULT_MODE = 0o666  # what open() asks for; the umask takes away from it


def new_file_mode() -> int:
    """0666 less this process's umask (read by setting it and putting it back: there is no other way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return DEFAULT_MODE & ~mask


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two processes never resolve, compile, start or update the same thing at
    once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
