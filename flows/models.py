"""Which model a flow runs: an explicit model directory, or the registry's current version."""

from __future__ import annotations

import json
from pathlib import Path

from extractor import registry as model_registry
from extractor.configuration import NRSOneRelConfig, load_config
from extractor.model import CONFIG_NAME
from extractor.registry import ModelEntry
from nrskg.errors import ModelError


def resolve_model(model: str | None, registry: str) -> ModelEntry:
    """`model` (a checkpoint directory) when given, else the current version of the registry at `registry`."""
    if model:
        config = model_config_at(Path(model))
        return ModelEntry(version=config.model_version, path=str(Path(model).resolve()))
    entry = model_registry.current(Path(registry))
    if entry is None:
        raise ModelError(
            f"no current model in the registry at {registry}: train one (`nrskg train`) or pass --model DIR"
        )
    return entry


def model_config_at(model_dir: Path) -> NRSOneRelConfig:
    path = model_dir / CONFIG_NAME
    if not path.is_file():
        raise ModelError(
            f"{model_dir} is not a model directory (no {CONFIG_NAME})",
            hint="Pass --model a directory written by `nrskg train`, or omit it to use the registry's model",
        )
    return load_config(path)[0]


def model_config(entry: ModelEntry) -> NRSOneRelConfig:
    return model_config_at(Path(entry.path))


def register_directory(registry: str | Path, model_dir: str | Path, promote: bool = False) -> ModelEntry:
    """Record a checkpoint written by `nrskg train` in the registry (where it lies), with its metrics.

    `val_f1` is recorded only when the checkpoint was selected on held-out documents: a training F1 is
    no evidence that one model is better than another.
    """
    from extractor.train import METRICS_FILE  # the trainer module, only for this function

    config = model_config_at(Path(model_dir))
    if not config.model_version:
        raise ModelError(f"{model_dir}: its {CONFIG_NAME} names no model_version")
    metrics: dict[str, float] = {}
    metrics_path = Path(model_dir) / METRICS_FILE
    if metrics_path.is_file():
        written = json.loads(metrics_path.read_text(encoding="utf-8"))
        if written.get("selected_on") == "validation":
            metrics["val_f1"] = float(written["best_val_f1"])
        if "train_f1" in written:
            metrics["train_f1"] = float(written["train_f1"])
    entry = model_registry.register(Path(registry), config.model_version, Path(model_dir), metrics)
    if promote:
        model_registry.promote(Path(registry), config.model_version)
    return entry
