"""The train flow: train a new model version, evaluate it against the current one, promote it if better.

Both models are scored on the same held-out documents (the validation split of the training data, split by
document with overlapping documents kept together), so the comparison is like for like.
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from extractor import registry as model_registry
from extractor.configuration import TrainConfig
from extractor.datasets import load
from extractor.encoders import TINY
from extractor.evaluate import evaluate
from extractor.schema import Example
from extractor.train import TrainResult, train, validation_split
from flows import logs
from flows.train_options import options_in, train_config

log = logging.getLogger("flows.training")  # not __name__: a Prefect worker imports this file as "training"
logs.send_to_flow_runs()

STAGING = ".staging"


@dataclass
class TrainOutcome:
    version: str
    model_dir: str
    candidate_f1: float
    held_out: bool  # False: `candidate_f1` is F1 on the training sample (no documents were held out)
    current_version: str | None
    current_f1: float | None
    promoted: bool


@task(name="train-model")
def train_model(data: str, format: str, encoder: str, out_dir: str, config: TrainConfig) -> TrainResult:
    # A progress bar only where a person watches: in a log file it is kilobytes of carriage returns.
    return train(data, format, encoder, out_dir, config, progress=sys.stderr.isatty())


@task(name="held-out-examples")
def held_out(data: str, format: str, config: TrainConfig) -> list[Example]:
    """The validation documents of the same split `train` used (same seed, same fraction)."""
    _, val_docs = validation_split(load(data, format), config)
    return [example for doc in val_docs for example in doc.examples]


@task(name="evaluate-model")
def evaluate_model(model_dir: str, examples: list[Example]) -> float:
    return evaluate(model_dir, examples).f1


@flow(name="train", log_prints=True)
def train_flow(
    data: str,
    format: str,
    encoder: str = TINY,
    registry: str = "models",
    ns: int | None = None,
    ns_scope: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    encoder_lr: float | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
    val_fraction: float | None = None,
    tokenization: str | None = None,
    device: str | None = None,
    loss: str | None = None,
    positive_weight: float | None = None,
    d_e: int | None = None,
    window_chars: int | None = None,
    eval_every: int | None = None,
    patience: int | None = None,
    curves: bool = False,
    target_precision: float | None = None,
    min_improvement: float = 0.0,
) -> TrainOutcome:
    """Train on `data`, register the new version, and make it current if it beats the current model's F1.

    The training options have the names of `nrskg train`'s (`flows.train_options`); unset ones take the
    defaults that suit the encoder kind. Without held-out documents (`val_fraction` 0) there is no fair
    comparison, so the new version is promoted only when there is no current model.
    """
    config = train_config(encoder, **options_in(locals()))
    root = Path(registry)
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    result = train_model(data, format, encoder, str(staging), config)
    model_dir = root / result.model_version
    shutil.rmtree(model_dir, ignore_errors=True)
    staging.rename(model_dir)

    examples = held_out(data, format, config) if config.val_fraction > 0 else []
    candidate = evaluate_model(str(model_dir), examples) if examples else result.best_val_f1
    current = model_registry.current(root)
    current_f1 = evaluate_model(current.path, examples) if current and examples else None
    metrics = {"val_f1": candidate} if examples else {}
    model_registry.register(root, result.model_version, model_dir, {**metrics, "train_f1": result.train_f1})
    promoted = current is None or (current_f1 is not None and candidate > current_f1 + min_improvement)
    if promoted:
        model_registry.promote(root, result.model_version)
    outcome = TrainOutcome(
        result.model_version, str(model_dir), candidate, bool(examples),
        current.version if current else None, current_f1, promoted,
    )  # fmt: skip
    _report(outcome, len(examples))
    return outcome


def _report(outcome: TrainOutcome, n_examples: int) -> None:
    """One log line (it reaches the flow run's logs) and one artifact, naming the F1 for what it is."""
    what = (
        f"held-out F1 {outcome.candidate_f1:.4f} on {n_examples} validation sentences"
        if outcome.held_out
        else f"training F1 {outcome.candidate_f1:.4f} (no documents held out, so not a quality estimate)"
    )
    verdict = "promoted to current" if outcome.promoted else f"kept {outcome.current_version} as current"
    log.info("model %s: %s; %s", outcome.version, what, verdict)
    column = "held-out F1" if outcome.held_out else "training F1"
    current = (
        f"| {outcome.current_version} (current) | {outcome.current_f1:.4f} |\n"
        if outcome.current_f1 is not None
        else ""
    )
    create_markdown_artifact(
        key="train-summary",
        markdown=(
            f"# Model {outcome.version}: {verdict}\n\n| model | {column} |\n|---|---|\n"
            f"| {outcome.version} (new) | {outcome.candidate_f1:.4f} |\n{current}"
        ),
    )
