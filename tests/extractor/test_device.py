"""Mixed precision: which precision a matrix product runs in, by device and by the CPU's bf16 support."""

from __future__ import annotations

import mmap
import platform
import resource

import pytest
import torch

from extractor import device as device_module
from extractor.device import autocast, hand_back_freed_memory, keep_freed_memory


def product_dtype(**kwargs) -> torch.dtype:
    a = torch.ones(4, 4)
    with autocast(torch.device("cpu"), **kwargs):
        return (a @ a).dtype


@pytest.mark.parametrize("native", [True, False])
def test_the_cpu_runs_bf16_only_when_asked_and_when_it_has_bf16_natively(monkeypatch, native):
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: native)
    assert product_dtype() == torch.float32  # extraction: fp32 on any CPU
    assert product_dtype(cpu_bf16=True) == (torch.bfloat16 if native else torch.float32)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory tunes glibc's malloc only")
def test_freed_pair_tables_are_reused_without_faulting_their_pages_in_again():
    """A block the size of a training step's pair table, freed, serves the next table that fits in it from the
    heap: glibc's default would unmap it on free and fault in every page of the next one afresh."""
    assert keep_freed_memory()
    size = 64 << 20  # above glibc's largest automatic mmap threshold (32 MiB)
    torch.ones((size + (1 << 20)) // 4)  # allocated, written and freed; 1 MiB larger, so the next one fits
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    table = torch.ones(size // 4)  # every page written
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del table
    assert faults < (size // mmap.PAGESIZE) // 10


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory tunes glibc's malloc only")
def test_what_training_kept_leaves_the_process_and_later_large_blocks_are_mapped_again():
    """After training, `hand_back_freed_memory` returns the kept blocks to the OS, and glibc maps blocks above
    32 MiB afresh again, so work after training does not hold training's peak."""
    assert keep_freed_memory()
    size = 64 << 20
    torch.ones(size // 4)  # allocated, written and freed: kept in the heap
    before = _resident_bytes()
    hand_back_freed_memory()
    assert before - _resident_bytes() > size // 2
    torch.ones((size + (1 << 20)) // 4)  # freed again, now unmapped on free
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    table = torch.ones(size // 4)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults > (size // mmap.PAGESIZE) // 2
    del table


def _resident_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb * 1024
