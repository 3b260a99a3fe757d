"""Where a trained model's recall comes from: its validation triples by whether their mentions, and the triple
itself, occur in the documents it was trained on.

A model that generalises finds new mentions in familiar contexts; one that memorises finds what it saw. The
split is the model's own (its stored training config), so the validation documents are those it never saw.

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
from extractor.train import split_as_trained

SEEN = ("neither mention", "one mention", "both mentions")


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
    rows = recall_by_familiarity(gold, [set(p) for p in predicted], seen, seen_triples)
    print(text_table(rows, ["validation triples", "gold", "found", "recall"]))
    val_mentions = mentions(val_docs)
    unseen = len(val_mentions - seen)
    print(
        f"{unseen} of the {len(val_mentions)} mention strings of the validation triples are not in training"
    )
    if args.out:
        result = {"model": str(args.model), "validation_documents": [d.doc_id for d in val_docs],
                  "validation_mentions": len(val_mentions), "unseen_mentions": unseen, "rows": rows,
                  "machine": machine()}  # fmt: skip
        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
