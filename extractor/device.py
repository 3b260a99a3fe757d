"""Which device the model runs on, its mixed precision, how much memory it has free, and whether the CPU's
allocator keeps freed blocks for reuse.

Training, inference and the flows ask here, so "auto", autocast and free memory mean one thing everywhere.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from contextlib import AbstractContextManager, nullcontext
from functools import cache

import torch

from nrskg.errors import ModelError

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h) and the size below which freed memory stays in the process.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_FREED_BYTES = 1 << 30
_GLIBC_MMAP_THRESHOLD_MAX = 32 << 20  # the ceiling of glibc's dynamic mmap threshold on 64-bit systems


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


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library where it is glibc (whose malloc parameters the functions below set), else None.

    Looked up once: `find_library` runs `ldconfig` in a subprocess, and the answer holds for the process."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except (OSError, TypeError):
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def keep_freed_memory() -> bool:
    """Let glibc keep freed blocks of up to `KEEP_FREED_BYTES` for reuse instead of returning them to the OS,
    until `hand_back_freed_memory`.

    A CPU training step allocates and frees pair tables of hundreds of MB. By default glibc maps each one
    afresh and unmaps it on free, so every step faults in and zeroes those pages again. Kept in the heap, they
    are reused. Process-wide; a no-op (False) where the C library is not glibc.
    """
    libc = _glibc()
    if libc is None:
        return False
    kept = all(libc.mallopt(param, KEEP_FREED_BYTES) for param in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD))
    log.debug("freed blocks below %d bytes kept for reuse: %s", KEEP_FREED_BYTES, kept)
    return kept


def hand_back_freed_memory() -> None:
    """Return what `keep_freed_memory` kept to the OS (`malloc_trim`) and glibc to the thresholds its own
    dynamic ones reach in a long-running process, so that work after training does not hold its peak."""
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_MMAP_THRESHOLD_MAX)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * _GLIBC_MMAP_THRESHOLD_MAX)
    trim_freed_memory()


def trim_freed_memory() -> None:
    """Return the heap's free pages to the OS now (`malloc_trim`), leaving glibc's thresholds as they are: a
    measurement of peak memory then starts from what is in use, not from what the allocator holds."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def free_memory(device: torch.device) -> int | None:
    """Free bytes on an accelerator; None on the CPU, where compute, not memory, bounds a batch."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return None
