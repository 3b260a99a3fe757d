"""Mixed precision: which precision a matrix product runs in, by device and by the CPU's bf16 support."""

from __future__ import annotations

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
