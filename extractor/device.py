"""Which device the model runs on, its mixed precision, and how much memory it has free.

Training, inference and the flows ask here, so "auto", autocast and free memory mean one thing everywhere.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from nrskg.errors import ModelError


def resolve_device(device: str) -> torch.device:
    """ "auto" is CUDA where available, else the CPU; any other name as torch spells it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise ModelError(f"unknown device {device!r}", hint="Use --device auto, cpu, cuda or cuda:N") from e


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX), where bf16 beats fp32 for speed.

    torch answers through private helpers; a torch without them counts as no.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def autocast(device: torch.device, cpu_bf16: bool = False) -> AbstractContextManager:
    """bf16 autocast on CUDA where supported (fp16 otherwise); on the CPU, bf16 only with `cpu_bf16` and a CPU
    that has it natively (training: a step takes ~0.6x the fp32 time on 2 AVX512-BF16 cores), else fp32.

    Extraction stays fp32 on the CPU, so its confidences do not depend on which CPU it runs on.
    """
    if device.type == "cpu" and cpu_bf16 and cpu_has_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if device.type != "cuda":
        return nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def free_memory(device: torch.device) -> int | None:
    """Free bytes on an accelerator; None on the CPU, where compute, not memory, bounds a batch."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return None
