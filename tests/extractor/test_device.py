"""Mixed precision: which precision a matrix product runs in, by device and by the CPU's bf16 support; and
what keeping freed memory does to glibc's heap."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import pytest
import torch

from extractor import device as device_module
from extractor.device import autocast


def product_dtype(**kwargs) -> torch.dtype:
    a = torch.ones(4, 4)
    with autocast(torch.device("cpu"), **kwargs):
        return (a @ a).dtype


@pytest.mark.parametrize("native", [True, False])
def test_the_cpu_runs_bf16_only_when_asked_and_when_it_has_bf16_natively(monkeypatch, native):
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: native)
    assert product_dtype() == torch.float32  # extraction: fp32 on any CPU
    assert product_dtype(cpu_bf16=True) == (torch.bfloat16 if native else torch.float32)


_HEAP = """
import json, mmap, resource, torch
from extractor.device import hand_back_freed_memory, keep_freed_memory

SIZE = 64 << 20  # above glibc's largest automatic mmap threshold (32 MiB)
PAGES = SIZE // mmap.PAGESIZE

def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def resident() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return 1024 * next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

def table_faults() -> int:
    before = faults()
    table = torch.ones(SIZE // 4)  # every page written
    counted = faults() - before
    del table
    return counted
"""


def _in_fresh_process(scenario: str) -> dict:
    """Run a heap scenario in a fresh interpreter: glibc's choices depend on what the heap already holds, and
    the thresholds set are process-wide, so neither may leak into or from the other tests."""
    code = textwrap.dedent(_HEAP) + textwrap.dedent(scenario)
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory tunes glibc's malloc only")
def test_freed_pair_tables_are_reused_without_faulting_their_pages_in_again():
    """A block the size of a training step's pair table, freed, serves the next table that fits in it from the
    heap: glibc's default unmaps it on free and faults in every page of the next one afresh."""
    seen = _in_fresh_process("""
        default = [table_faults() for _ in range(2)]
        kept = keep_freed_memory()
        torch.ones((SIZE + (1 << 20)) // 4)  # written and freed; 1 MiB larger, so the next one fits
        print(json.dumps({"pages": PAGES, "kept": kept, "default": default[-1], "reused": table_faults()}))
    """)
    assert seen["kept"]
    assert seen["default"] > seen["pages"] // 2
    assert seen["reused"] < seen["pages"] // 10


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory tunes glibc's malloc only")
def test_what_training_kept_leaves_the_process_and_later_large_blocks_are_mapped_again():
    """After training, `hand_back_freed_memory` returns the kept blocks to the OS, and glibc maps blocks above
    32 MiB afresh again, so work after training does not hold training's peak."""
    seen = _in_fresh_process("""
        keep_freed_memory()
        torch.ones(SIZE // 4)  # allocated, written and freed: kept in the heap
        before = resident()
        hand_back_freed_memory()
        returned = before - resident()
        torch.ones((SIZE + (1 << 20)) // 4)  # mapped, and unmapped on free
        print(json.dumps({"pages": PAGES, "size": SIZE, "returned": returned, "after": table_faults()}))
    """)
    assert seen["returned"] > seen["size"] // 2
    assert seen["after"] > seen["pages"] // 2
