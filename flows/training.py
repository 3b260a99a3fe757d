"""The train flow: train a new model version, evaluate it against the current one, promote it if better.

Both models are scored on the same held-out documents (the validation split of the training data, split by
document with overlapping documents kept together), so the comparison is like for like.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from extractor import registry as model_registry
from extractor.configuration import TINY_TRAIN, TrainConfig
from extractor.datasets import load
from extractor.encoders import TINY
from extractor.evaluate import evaluate
from extractor.schema import Example
from extractor.train import TrainResult, train, validation_split

log = logging.getLogger(__name__)

STAGING = ".staging"


@dataclass
class TrainOutcome:
    version: str
    model_dir: str
    candidate_f1: float
    current_version: str | None
    current_f1: float | None
    promoted: bool


@task(name="train-model")
def train_model(data: str, fmt: str, encoder: str, out_dir: str, config: TrainConfig) -> TrainResult:
    return train(data, fmt, encoder, out_dir, config)


@task(name="held-out-examples")
def held_out(data: str, fmt: str, config: TrainConfig) -> list[Example]:
    """The validation documents of the same split `train` used (same seed, same fraction)."""
    _, val_docs = validation_split(load(data, fmt), config)
    return [example for doc in val_docs for example in doc.examples]


@task(name="evaluate-model")
def evaluate_model(model_dir: str, examples: list[Example]) -> float:
    return evaluate(model_dir, examples).f1


@flow(name="train", log_prints=True)
def train_flow(
    data: str,
    fmt: str,
    encoder: str = TINY,
    registry: str = "models",
    ns: int | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    val_fraction: float | None = None,
    device: str | None = None,
    min_improvement: float = 0.0,
) -> TrainOutcome:
    """Train on `data`, register the new version, and make it current if it beats the current model's F1.

    Unset options take the defaults that suit the encoder kind (`TINY_TRAIN` for the tiny encoder).
    """
    given = {
        "ns": ns, "epochs": epochs, "max_steps": max_steps, "batch_size": batch_size, "seed": seed,
        "val_fraction": val_fraction, "device": device,
    }  # fmt: skip
    base = TINY_TRAIN if encoder == TINY else TrainConfig()
    config = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
    root = Path(registry)
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    result = train_model(data, fmt, encoder, str(staging), config)
    model_dir = root / result.model_version
    shutil.rmtree(model_dir, ignore_errors=True)
    staging.rename(model_dir)

    examples = held_out(data, fmt, config) if config.val_fraction > 0 else []
    candidate = evaluate_model(str(model_dir), examples) if examples else result.best_val_f1
    current = model_registry.current(root)
    current_f1 = evaluate_model(current.path, examples) if current and examples else None
    model_registry.register(
        root, result.model_version, model_dir, {"val_f1": candidate, "train_f1": result.train_f1}
    )
    promoted = current is None or (current_f1 is not None and candidate > current_f1 + min_improvement)
    if promoted:
        model_registry.promote(root, result.model_version)
    outcome = TrainOutcome(
        result.model_version, str(model_dir), candidate,
        current.version if current else None, current_f1, promoted,
    )  # fmt: skip
    verdict = "promoted to current" if promoted else f"kept {outcome.current_version} as current"
    create_markdown_artifact(
        key="train-summary",
        markdown=(
            f"# Model {outcome.version}: {verdict}\n\n| model | held-out F1 |\n|---|---|\n"
            f"| {outcome.version} (new) | {candidate:.4f} |\n"
            + (
                f"| {outcome.current_version} (current) | {current_f1:.4f} |\n"
                if current_f1 is not None
                else ""
            )
        ),
    )
    log.info("model %s: held-out F1 %.4f; %s", outcome.version, candidate, verdict)
    return outcome
