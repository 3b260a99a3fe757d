"""Which model a flow runs: an explicit model directory, or the registry's current version."""

from __future__ import annotations

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
