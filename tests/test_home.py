"""The suite runs in a home of its own: a local Neo4j, its password or a Prefect profile that `make demo` or
a user left in the real home never reaches a test; only the downloads cache is shared."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from prefect.settings import get_current_settings

from graph import process
from nrskg.downloads import download_cache


def test_home_is_temporary_and_only_the_downloads_cache_is_shared() -> None:
    home = Path.home()
    assert home != Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert process.default_data_dir().is_relative_to(home)
    assert get_current_settings().home.is_relative_to(home)
    assert not download_cache().is_relative_to(home)
