"""How far decoding lets a begin or an end be shared (`extractor.tagging.SHARED_SPAN_TOKENS`): validation
precision, recall and F1 of trained models, and the oracle recall of the shared data sets, at each reach.

A short reach drops the long spans a model's table yields where a begin's own end mark is missing; too short a
reach also drops gold nested spans that share a begin or an end, which the oracle recall counts.

`--mark-threshold` also scores the models with a mark read where its logit passes another value than 0 (the
mark losses' boundary): whether a lower bar finds triples the model leaves just below it.

    python -m benchmarks.decoding --model models/diakg-cpu --data ../shared/data/diakg/train --format diakg \\
        --out benchmarks/results/decoding_reach.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from benchmarks.common import DATA_ROOT, log_progress, machine, text_table, write_json
from extractor import model as nrs_model
from extractor import tagging
from extractor.alignment import char_offsets
from extractor.configuration import load_config
from extractor.datasets import load, relation_schema
from extractor.evaluate import predictions, score
from extractor.infer import Extractor
from extractor.losses import cell_classes, marked_cells
from extractor.model import CONFIG_NAME
from extractor.train import split_as_trained

ANYWHERE = 10**9
CORPORA = (("diakg", "diakg/train"), ("ruijin", "ruijin_round2/train"), ("cmeie", "cmeie/train.jsonl"),
           ("duie", "duie/train.jsonl"))  # fmt: skip


def reach_label(reach: int) -> str:
    return "anywhere" if reach == ANYWHERE else str(reach)


def validation_of(model: Path, data: Path, fmt: str) -> tuple[Extractor, list]:
    """The model and the validation examples of its own split."""
    _, config = load_config(model / CONFIG_NAME)
    if config is None:
        raise SystemExit(f"{model}: no training config stored, so no split to reproduce")
    _, val_docs = split_as_trained(data, fmt, config)
    return Extractor.load(model), [example for doc in val_docs for example in doc.examples]


def scored(extractor: Extractor, examples: list) -> dict[str, object]:
    gold, predicted = predictions(extractor, examples)
    micro = score(gold, [set(p) for p in predicted]).micro
    return {"predicted": micro.predicted, "precision": round(micro.precision, 4),
            "recall": round(micro.recall, 4), "f1": round(micro.f1, 4)}  # fmt: skip


def model_rows(model: Path, data: Path, fmt: str, reaches: list[int]) -> list[dict[str, object]]:
    """Validation P / R / F1 of `model` at each reach, on the validation documents of its own split."""
    extractor, examples = validation_of(model, data, fmt)
    rows = []
    for reach in reaches:
        with mock.patch.object(tagging, "SHARED_SPAN_TOKENS", reach):
            rows.append({"model": model.name, "reach": reach_label(reach), **scored(extractor, examples)})
    return rows


@contextmanager
def marks_above(threshold: float) -> Iterator[None]:
    """Inside, the model reads a mark where its logit passes `threshold` (the mark losses; 0 outside)."""
    with (
        mock.patch.object(nrs_model, "marked_cells", lambda loss, x: marked_cells(loss, x - threshold)),
        mock.patch.object(nrs_model, "cell_classes", lambda loss, x: cell_classes(loss, x - threshold)),
    ):
        yield


def threshold_rows(model: Path, data: Path, fmt: str, thresholds: list[float]) -> list[dict[str, object]]:
    """Validation P / R / F1 of `model` with marks read at logit > each threshold, at the default reach."""
    extractor, examples = validation_of(model, data, fmt)
    rows = []
    for t in thresholds:
        with marks_above(t):
            rows.append({"model": model.name, "mark threshold": t, **scored(extractor, examples)})
    return rows


def oracle_rows(root: Path, reaches: list[int]) -> list[dict[str, object]]:
    """The oracle recall (character level) of each shared data set found under `root`, at each reach."""
    rows = []
    for fmt, relative in CORPORA:
        if not (root / relative).exists():
            continue
        docs = load(root / relative, fmt)
        examples = [example for doc in docs for example in doc.examples]
        relations = [r.name for r in relation_schema(docs)]
        for reach in reaches:
            with mock.patch.object(tagging, "SHARED_SPAN_TOKENS", reach):
                report = tagging.oracle_recall(examples, relations, char_offsets)
            rows.append({"data set": fmt, "reach": reach_label(reach), "gold": report.gold,
                         "recovered": report.recovered,
                         "oracle recall": round(report.recall, 5)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", default=[], help="A trained model (repeat).")
    parser.add_argument("--data", type=Path, help="The data set the models were trained on.")
    parser.add_argument("--format", default="diakg")
    parser.add_argument("--reach", default="anywhere,16,10,8,5,0", help="Reaches in tokens, comma-separated.")
    parser.add_argument("--mark-threshold", default="", help="Logit thresholds of a mark, comma-separated.")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT, help="Where the shared data sets lie.")
    parser.add_argument("--out", type=Path, help="Write the tables as JSON here.")
    args = parser.parse_args(argv)
    log_progress()
    reaches = [ANYWHERE if r == "anywhere" else int(r) for r in args.reach.split(",")]
    if args.model and args.data is None:
        parser.error("--model needs --data")
    models = [row for model in args.model for row in model_rows(model, args.data, args.format, reaches)]
    thresholds = [float(t) for t in args.mark_threshold.split(",") if t]
    marks = [row for model in args.model for row in threshold_rows(model, args.data, args.format, thresholds)]
    oracle = oracle_rows(args.data_root, reaches)
    if models:
        print(text_table(models, ["model", "reach", "predicted", "precision", "recall", "f1"]))
    if marks:
        print(text_table(marks, ["model", "mark threshold", "predicted", "precision", "recall", "f1"]))
    print(text_table(oracle, ["data set", "reach", "gold", "recovered", "oracle recall"]))
    if args.out:
        write_json(args.out, {"default_reach": tagging.SHARED_SPAN_TOKENS, "models": models,
                              "mark_thresholds": marks, "oracle": oracle,
                              "machine": machine()})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
