"""The train flow: train a new model version, evaluate it against the current one, promote it if better.

Both models are scored on the same held-out sentences: the new model's validation split (by document, with
overlapping documents kept together), less the sentences the current model was trained on (the split moves
when the data grows), so the comparison is like for like.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from extractor import registry as model_registry
from extractor.configuration import TrainConfig, defaults_for, parse_settings, with_settings
from extractor.datasets.corpora import Corpus
from extractor.encoders import TINY
from extractor.train import TrainResult, train
from flows import logs
from nrskg.contracts import DEFAULT_REGISTRY

log = logging.getLogger("flows.training")  # not __name__: a Prefect worker imports this file as "training"
logs.send_to_flow_runs()


@dataclass
class TrainOutcome:
    version: str
    model_dir: str
    candidate_f1: float
    held_out: bool  # False: `candidate_f1` is F1 on the training sample (no documents were held out)
    comparison: model_registry.Comparison  # with the current model (`not_compared` says why there was none)


@task(name="train-model")
def train_model(
    data: str, format: str, encoder: str, out_dir: str, config: TrainConfig, extra: list[str]
) -> TrainResult:
    corpora = [Corpus.parse(spec) for spec in extra]
    return train(data, format, encoder, out_dir, config, extra=corpora)


compare_and_promote = task(model_registry.promote_if_better, name="compare-and-promote")


@flow(name="train", log_prints=True)
def train_flow(
    data: str,
    format: str,
    encoder: str = TINY,
    registry: str = DEFAULT_REGISTRY,
    settings: dict[str, Any] | None = None,
    extra: list[str] | None = None,
    min_improvement: float = 0.0,
) -> TrainOutcome:
    """Train on `data` (plus the `extra` FORMAT:PATH corpora), register the new version, and make it current
    if it beats the current model's F1 on the held-out sentences the current model was not trained on.

    `settings` are those of `nrskg train`, by their Python names (`{"epochs": 8, "window_chars": 128}`);
    unset ones take the encoder kind's defaults. Without held-out documents (`val_fraction` 0) there is no
    fair comparison, so the new version is promoted only when there is no current model.
    """
    config = with_settings(defaults_for(encoder), **parse_settings(settings or {}))
    root = Path(registry)
    staged = model_registry.staging(root)
    try:
        result = train_model(data, format, encoder, str(staged), config, extra or [])
        entry = model_registry.register_staged(root, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # gone once registered; a failed run's files help no one
    compared = compare_and_promote(root, entry, result.held_out, min_improvement)
    outcome = TrainOutcome(entry.version, entry.path, result.best_val_f1, "val_f1" in entry.metrics, compared)
    _report(outcome, sum(len(doc.examples) for doc in result.held_out))
    return outcome


def _report(outcome: TrainOutcome, n_examples: int) -> None:
    """One log line (it reaches the flow run's logs) and one artifact, naming each F1 for what it is."""
    what = (
        f"held-out F1 {outcome.candidate_f1:.4f} on {n_examples} validation sentences"
        if outcome.held_out
        else f"training F1 {outcome.candidate_f1:.4f} (no documents held out, so not a quality estimate)"
    )
    compared = outcome.comparison
    current = compared.current.version if compared.current else None
    where = f"the {compared.sentences} of them {current} was not trained on" if compared.left_out else "them"
    versus = (
        f"; on {where}: {compared.candidate_f1:.4f} against {current}'s {compared.current_f1:.4f}"
        if compared.current_f1 is not None
        else f"; {compared.not_compared}, so no comparison"
        if compared.not_compared
        else ""
    )
    verdict = "promoted to current" if compared.promoted else f"kept {current} as current"
    log.info("model %s: %s%s; %s", outcome.version, what, versus, verdict)
    column = "held-out F1" if outcome.held_out else "training F1"
    table = f"| model | {column} |\n|---|---|\n| {outcome.version} (new) | {outcome.candidate_f1:.4f} |\n"
    if compared.current_f1 is not None:
        table += (
            f"\nOn {where} ({compared.sentences} sentences):\n\n| model | F1 |\n|---|---|\n"
            f"| {outcome.version} (new) | {compared.candidate_f1:.4f} |\n"
            f"| {current} (current) | {compared.current_f1:.4f} |\n"
        )
    if compared.not_compared:
        table += f"\n{compared.not_compared[0].upper()}{compared.not_compared[1:]}, so no comparison.\n"
    create_markdown_artifact(key="train-summary", markdown=f"# Model {outcome.version}: {verdict}\n\n{table}")
