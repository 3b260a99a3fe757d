"""Where downloads are kept: one folder per machine that checkouts, the CLI and test runs share, because
fetching Maven jars and PyPI wheels again costs minutes and the network."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "NRSKG_CACHE"


def download_cache() -> Path:
    """`$NRSKG_CACHE`, else `~/.cache/nrskg`."""
    root = os.environ.get(CACHE_VARIABLE)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "nrskg"
