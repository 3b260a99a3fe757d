"""The mode of a file the project writes for others to read, as a plain `open()` would create it.

Writers that go through a temporary file (`tempfile.mkstemp`, safetensors' own atomic save) create it 0600,
whatever the umask: a registry shared with its models would hold weights only their writer can read.
"""

from __future__ import annotations

import os

DEFAULT_MODE = 0o666  # what open() asks for; the umask takes away from it


def new_file_mode() -> int:
    """0666 less this process's umask (read by setting it and putting it back: there is no other way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return DEFAULT_MODE & ~mask
