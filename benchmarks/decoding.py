"""How far decoding lets a begin or an end be shared (`extractor.tagging.SHARED_SPAN_TOKENS`): validation
precision, recall and F1 of trained models, and the oracle recall of the shared data sets, at each reach.

A short reach drops the long spans a model's table yields where a begin's own end mark is missing; too short a
reach also drops gold nested spans that share a begin or an end, which the oracle recall counts.

`--mark-threshold` also scores the models with a mark read where its logit passes another value than 0 (the
mark losses' boundary): whether a lower bar finds triples the model leaves just below it.

`--mention-spans` reads the mention column of a model trained with one (its self-pairs are the mentions it
predicts) and scores two uses of it: keeping only triples whose arguments are both predicted mentions, and
moving each argument to the predicted mention that overlaps it most. Whether the column fixes the boundaries
of the relation columns' near misses.

    python -m benchmarks.decoding --model models/diakg-cpu --data ../shared/data/diakg/train --format diakg \\
        --out benchmarks/results/decoding_reach.json
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
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
from extractor.infer import Extractor, PredictedTriple
from extractor.losses import cell_classes, marked_cells
from extractor.model import CONFIG_NAME
from extractor.train import split_as_trained

ANYWHERE = 10**9
MENTION = "(mention)"  # the mention column read as one more relation; no corpus has a relation of that name
Span = tuple[int, int]
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


def snapped(span: Span, mentions: set[Span]) -> Span | None:
    """The predicted mention overlapping `span` most (the nearest in length among equals); None if none."""

    def overlap(m: Span) -> tuple[int, int]:
        return min(m[1], span[1]) - max(m[0], span[0]), -abs(m[1] - m[0] - span[1] + span[0])

    near = [m for m in mentions if m[0] < span[1] and span[0] < m[1]]
    return max(near, key=overlap) if near else None


def predicted_mentions(triples: list[PredictedTriple]) -> set[Span]:
    """The spans the mention column marks: its self-pairs."""
    return {(t.head.start, t.head.end) for t in triples if t.relation == MENTION and t.head == t.tail}


def mention_uses(
    text: str, triples: list[PredictedTriple], mentions: set[Span]
) -> dict[str, set[tuple[str, str, str]]]:
    """One sentence's triple keys as decoded, filtered by its predicted mentions, and snapped to them."""
    uses: dict[str, set[tuple[str, str, str]]] = {
        "as decoded": set(),
        "both on mentions": set(),
        "snapped": set(),
    }
    for t in triples:
        if t.relation == MENTION:
            continue
        head, tail = (t.head.start, t.head.end), (t.tail.start, t.tail.end)
        uses["as decoded"].add(t.key())
        if head in mentions and tail in mentions:
            uses["both on mentions"].add(t.key())
        head, tail = snapped(head, mentions) or head, snapped(tail, mentions) or tail
        uses["snapped"].add((text[head[0] : head[1]], t.relation, text[tail[0] : tail[1]]))
    return uses


def mention_rows(model: Path, data: Path, fmt: str) -> tuple[list[dict[str, object]], dict[str, int]]:
    """Validation P / R / F1 of `model` as decoded and with each use of its predicted mentions, and how many
    decoded and gold arguments (spans, once per triple) are predicted mentions."""
    extractor, examples = validation_of(model, data, fmt)
    config = extractor.config
    if not config.mention_column:
        raise SystemExit(f"{model}: trained without the mention column")
    config.relations, config.mention_column = [*config.relations, MENTION], False  # column K as a relation
    config.head_types, config.tail_types = [*config.head_types, MENTION], [*config.tail_types, MENTION]
    found = extractor.extract([e.text for e in examples], min_confidence=0.0)
    per_sentence, coverage = [], Counter()
    for example, triples in zip(examples, found, strict=True):
        mentions = predicted_mentions(triples)
        per_sentence.append(mention_uses(example.text, triples, mentions))
        decoded = [(a.start, a.end) for t in triples if t.relation != MENTION for a in (t.head, t.tail)]
        gold = [(a.start, a.end) for t in example.triples for a in (t.head, t.tail)]
        coverage["decoded arguments"] += len(decoded)
        coverage["decoded on mentions"] += sum(a in mentions for a in decoded)
        coverage["gold arguments"] += len(gold)
        coverage["gold on mentions"] += sum(a in mentions for a in gold)
    gold_keys = [{t.key() for t in e.triples} for e in examples]
    rows = []
    for use in per_sentence[0] if per_sentence else ():
        micro = score(gold_keys, [uses[use] for uses in per_sentence]).micro
        rows.append({"model": model.name, "decoding": use, "predicted": micro.predicted,
                     "precision": round(micro.precision, 4), "recall": round(micro.recall, 4),
                     "f1": round(micro.f1, 4)})  # fmt: skip
    return rows, {"model": model.name, **coverage}


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
    parser.add_argument("--mention-spans", action="store_true", help="Score uses of the mention column.")
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
    measured = [mention_rows(model, args.data, args.format) for model in args.model if args.mention_spans]
    spans, coverage = [row for rows, _ in measured for row in rows], [counts for _, counts in measured]
    oracle = oracle_rows(args.data_root, reaches)
    if models:
        print(text_table(models, ["model", "reach", "predicted", "precision", "recall", "f1"]))
    if marks:
        print(text_table(marks, ["model", "mark threshold", "predicted", "precision", "recall", "f1"]))
    if spans:
        print(text_table(spans, ["model", "decoding", "predicted", "precision", "recall", "f1"]))
        print(text_table(coverage, list(coverage[0])))
    print(text_table(oracle, ["data set", "reach", "gold", "recovered", "oracle recall"]))
    if args.out:
        write_json(args.out, {"default_reach": tagging.SHARED_SPAN_TOKENS, "models": models,
                              "mark_thresholds": marks, "mention_spans": spans,
                              "mention_coverage": coverage, "oracle": oracle,
                              "machine": machine()})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
