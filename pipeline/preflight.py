"""What must hold before any extraction starts, checked in seconds rather than found out after the model ran.

Neo4j answers, accepts the credentials and has the database NEO4J_DATABASE names, the model directory and its
weights can be read, the device exists. The CLI runs these checks before it starts Prefect (so a mistake costs
one line and no run), and the flows run them first (so a deployment fails the same way).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from extractor.device import resolve_device
from extractor.model import WEIGHTS_NAME
from extractor.registry import ModelEntry, resolve
from graph.connection import check
from graph.settings import Neo4jSettings
from nrskg.errors import ModelError


def check_device(device: str) -> None:
    """The device names one torch knows and this machine has."""
    if resolve_device(device).type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {device!r}: CUDA is not available here", hint="Use --device cpu or auto")


def check_weights(model_dir: str | Path) -> None:
    """The weights file is complete safetensors (its header and sizes; nothing is loaded)."""
    path = Path(model_dir) / WEIGHTS_NAME
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError) as e:
        raise ModelError(
            f"{path} is not a complete safetensors file ({e})",
            hint="Copy the model directory again, or train it again",
        ) from e


def check_model(model: str | None, registry: str, device: str) -> ModelEntry:
    """The model to run (`model`, else the registry's current one), its weights readable, its device there."""
    entry = resolve(model, Path(registry))
    check_weights(entry.path)
    check_device(device)
    return entry


def preflight(model: str | None, registry: str, device: str, neo4j: Neo4jSettings) -> ModelEntry:
    """Check Neo4j, then the model and the device; returns the model to run."""
    check(neo4j)
    return check_model(model, registry, device)
