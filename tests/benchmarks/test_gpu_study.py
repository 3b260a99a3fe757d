"""benchmarks/gpu_study.sh in its CPU mode: every arm of the GPU study runs in miniature, scored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RECIPE_ARMS = {"default", "d768", "d1536", "no-ema", "all-windows", "onerel-dropout", "frozen-embeddings",
               "ruijin", "nsK", "mention-replace", "mask-tokens", "encoder-lr-1e-4", "fgm",
               "no-distance", "no-between", "no-mention-column", "ruijin-first"}  # fmt: skip


def test_every_arm_of_the_gpu_study_trains_and_is_scored(shared_data: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path), "DATA_ROOT": str(shared_data), "PYTHON": sys.executable}
    done = subprocess.run(["bash", "benchmarks/gpu_study.sh", "cpu"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    recipe = json.loads((tmp_path / "study_gpu_cpu_recipe.json").read_text())
    ns = json.loads((tmp_path / "study_gpu_cpu_ns.json").read_text())
    assert {run["arm"] for run in recipe["runs"]} == RECIPE_ARMS
    seeds = sorted((run["arm"], run["seed"]) for run in ns["runs"])
    assert seeds == [("ns10", 0), ("ns10", 1), ("nsK", 0), ("nsK", 1)]
    for run in recipe["runs"] + ns["runs"]:
        assert run["finished"], run["arm"]
        assert run["curve"] and 0.0 <= run["curve"][-1]["val_f1"] <= 1.0
