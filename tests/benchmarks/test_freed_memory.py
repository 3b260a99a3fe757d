"""`benchmarks.freed_memory` at its quick size: both arms in their own processes, and what each measured."""

from __future__ import annotations

import json
import platform

import pytest

from benchmarks.freed_memory import ARMS, main


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory tunes glibc's malloc only")
def test_quick_run_measures_both_arms_and_kept_memory_faults_fewer_pages(tmp_path) -> None:
    main(["--quick", "--out", str(tmp_path / "freed.json")])
    result = json.loads((tmp_path / "freed.json").read_text(encoding="utf-8"))
    default, kept, ratio = result["table"]
    assert [default["arm"], kept["arm"], ratio["arm"]] == [*ARMS, "ratio"]
    assert [run["kept"] for run in result["runs"]] == [False, True]
    assert all(run["step_ms"] > 0 and run["peak_rss_mb"] > 0 for run in result["runs"])
    # The pair tables (16 x 129 x 129 x 256 floats at the longest length) come back from the heap, not as
    # freshly mapped pages.
    assert kept["page_faults_per_step"] < default["page_faults_per_step"] / 4
