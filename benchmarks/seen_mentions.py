"""Where a trained model's recall comes from: its validation triples by whether their mentions, and the triple
itself, occur in the documents it was trained on, and by how far apart their two mentions stand; and how near
its errors come to a right triple.

A model that generalises finds new mentions in familiar contexts; one that memorises finds what it saw. A
wrong triple that differs from a gold one only in its boundaries or its relation is a near miss a reader can
mend; one that relates two strings nothing relates is noise. The split is the model's own (its stored training
config), so the validation documents are those it never saw.

    python -m benchmarks.seen_mentions --model models/diakg-cpu --data ../shared/data/diakg/train \\
        --format diakg --out benchmarks/results/seen_mentions_diakg_cpu.json
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from benchmarks.common import log_progress, machine, text_table, write_json
from extractor.configuration import load_config
from extractor.datasets import Document
from extractor.evaluate import Key, predictions
from extractor.infer import Extractor
from extractor.model import CONFIG_NAME
from extractor.schema import Example, Triple
from extractor.train import split_as_trained

SEEN = ("neither mention", "one mention", "both mentions")
NEARNESS = ("other relation", "reversed", "other boundaries", "one mention", "nothing near")
ERRORS = ("false positives", "missed")
GAPS = ((0, "overlapping or touching"), (9, "1-9"), (29, "10-29"), (59, "30-59"), (None, "60 or more"))


def mentions(docs: list[Document]) -> set[str]:
    return {entity.text for doc in docs for _, t in doc.gold_triples() for entity in (t.head, t.tail)}


def recall_by_familiarity(
    gold: list[set[Key]], predicted: list[set[Key]], seen: set[str], seen_triples: set[Key]
) -> list[dict[str, object]]:
    """Recall of the gold triples grouped by how many of their mention strings (and whether the whole triple)
    occur in the training documents."""
    counts: Counter[tuple[str, bool]] = Counter()
    for wanted, found in zip(gold, predicted, strict=True):
        for key in wanted:
            known = SEEN[(key[0] in seen) + (key[2] in seen)]
            for group in (known, "triple seen" if key in seen_triples else "triple new", "all"):
                counts[(group, key in found)] += 1
    rows = []
    for group in (*SEEN, "triple seen", "triple new", "all"):
        total = counts[(group, True)] + counts[(group, False)]
        rows.append({"validation triples": group, "gold": total, "found": counts[(group, True)],
                     "recall": round(counts[(group, True)] / total, 3) if total else None})  # fmt: skip
    return rows


def gap(triple: Triple) -> int:
    """Characters between a triple's two mentions; 0 or less where they touch or one lies inside the other."""
    return max(triple.head.start, triple.tail.start) - min(triple.head.end, triple.tail.end)


def recall_by_gap(examples: list[Example], predicted: list[set[Key]]) -> list[dict[str, object]]:
    """Recall of the gold triples grouped by the characters between their mentions (a triple annotated twice
    in one sentence counts once, at its nearest), with `predicted` per example as `predictions` keys them."""
    counts: Counter[tuple[str, bool]] = Counter()
    for example, found in zip(examples, predicted, strict=True):
        nearest: dict[Key, int] = {}
        for triple in example.triples:
            nearest[triple.key()] = min(gap(triple), nearest.get(triple.key(), gap(triple)))
        for key, apart in nearest.items():
            label = next(name for most, name in GAPS if most is None or apart <= most)
            counts[(label, key in found)] += 1
    rows = []
    for _, label in GAPS:
        total = counts[(label, True)] + counts[(label, False)]
        rows.append({"characters between": label, "gold": total, "found": counts[(label, True)],
                     "recall": round(counts[(label, True)] / total, 3) if total else None})  # fmt: skip
    return rows


def nearness(key: Key, others: set[Key]) -> str:
    """How near `key` comes to a triple of `others` (the same sentence's gold triples, or its predictions),
    the nearest of NEARNESS: the same pair under another relation; the pair reversed; the relation with both
    mentions overlapping (one inside the other); the relation with one mention the same, the other apart."""
    head, relation, tail = key
    if any(h == head and t == tail for h, _, t in others):
        return NEARNESS[0]
    if (tail, relation, head) in others:
        return NEARNESS[1]
    pairs = [(h, t) for h, r, t in others if r == relation]
    if any(_overlap(head, h) and _overlap(tail, t) for h, t in pairs):
        return NEARNESS[2]
    if any(head == h or tail == t for h, t in pairs):
        return NEARNESS[3]
    return NEARNESS[4]


def errors_by_nearness(gold: list[set[Key]], predicted: list[set[Key]]) -> list[dict[str, object]]:
    """False positives by how near they come to a gold triple of their sentence, missed gold triples by how
    near a prediction comes to them."""
    counts: Counter[tuple[str, str]] = Counter()
    for wanted, found in zip(gold, predicted, strict=True):
        counts.update((ERRORS[0], nearness(key, wanted)) for key in found - wanted)
        counts.update((ERRORS[1], nearness(key, found)) for key in wanted - found)
    rows = [{"nearest": near, **{kind: counts[(kind, near)] for kind in ERRORS}} for near in NEARNESS]
    totals = {kind: sum(row[kind] for row in rows) for kind in ERRORS}
    return [*rows, {"nearest": "all", **totals}]


def _overlap(a: str, b: str) -> bool:
    return a in b or b in a


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="A trained model directory.")
    parser.add_argument("--data", type=Path, required=True, help="The data set it was trained on.")
    parser.add_argument("--format", required=True)
    parser.add_argument("--out", type=Path, help="Write the table as JSON here.")
    args = parser.parse_args(argv)
    log_progress()
    _, config = load_config(args.model / CONFIG_NAME)
    if config is None:
        print(f"{args.model}: no training config stored, so no split to reproduce", file=sys.stderr)
        return 2
    train_docs, val_docs = split_as_trained(args.data, args.format, config)
    if not val_docs:
        print(f"{args.model}: trained without validation documents", file=sys.stderr)
        return 2
    examples = [example for doc in val_docs for example in doc.examples]
    gold, predicted = predictions(Extractor.load(args.model), examples)
    seen_triples = {t.key() for doc in train_docs for _, t in doc.gold_triples()}
    seen = mentions(train_docs)
    found = [set(p) for p in predicted]
    rows = recall_by_familiarity(gold, found, seen, seen_triples)
    print(text_table(rows, ["validation triples", "gold", "found", "recall"]))
    apart = recall_by_gap(examples, found)
    print(text_table(apart, ["characters between", "gold", "found", "recall"]))
    errors = errors_by_nearness(gold, found)
    print(text_table(errors, ["nearest", *ERRORS]))
    val_mentions = mentions(val_docs)
    unseen = len(val_mentions - seen)
    print(
        f"{unseen} of the {len(val_mentions)} mention strings of the validation triples are not in training"
    )
    if args.out:
        result = {"model": str(args.model), "validation_documents": [d.doc_id for d in val_docs],
                  "validation_mentions": len(val_mentions), "unseen_mentions": unseen, "rows": rows,
                  "by_gap": apart, "errors": errors, "machine": machine()}  # fmt: skip
        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
