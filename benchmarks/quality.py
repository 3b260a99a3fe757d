"""Does negative relation sampling pay off? NRS-OneRel over a grid of NS against OneRel (NS = K), as a study.

Each NS value is an arm of `benchmarks.study` (`ns<v>:ns=<v>`; `K` scores every relation type, and so does
any value at or above K), so every arm trains the same encoder on the same documents and validation split
with the same settings (`--set`) and seeds, in parallel processes. Beside the study's table and curves this
records what decides how much NS can matter on a data set (the positive relation types per sentence and per
batch, and the types each NS scores per sentence), prints the headline, NS = 10 against NS = K as mean ± std
over the seeds, and plots validation F1 against NS.

    python -m benchmarks.quality --quick       # tiny encoder, DiaKG's first documents: a smoke run
    python -m benchmarks.quality --dataset diakg --encoder DIR --ns 2,5,10,K --seeds 0,1,2 \\
        --set max_steps=600 eval_every=150 --parallel 2 --threads 1
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import study
from benchmarks.common import log_progress, write_json
from benchmarks.study import Arm, StudyConfig
from extractor.batching import length_batches
from extractor.configuration import TrainConfig
from extractor.datasets import Document, relation_schema, window_examples
from extractor.datasets.corpora import load_renamed
from extractor.train import validation_split

NS_GRID = ["2", "5", "10", "K"]
SEEDS = [0, 1, 2]  # the headline is a mean ± std over seeds
QUICK = {**study.QUICK, "arms": []}
QUICK_NS = ["2", "10", "K"]


def ns_arms(specs: list[str], k: int) -> list[Arm]:
    """One arm per NS value, smallest first: `ns<v>:ns=<v>`, and `nsK` for K or any value >= K."""
    values = {"K" if s == "K" or int(s) >= k else str(int(s)) for s in specs}
    ordered = sorted(values, key=lambda v: k if v == "K" else int(v))
    return [Arm.parse(f"ns{v}:ns={v}") for v in ordered]


def training_batches(train_docs: list[Document], settings: TrainConfig) -> list[list[set[str]]]:
    """Each training batch's windows as their sets of relation types, windowed and length-bucketed as `train`
    makes them (every window taken, as with `empty_windows=1`)."""
    sentences = [example for doc in train_docs for example in doc.examples]
    model = settings.model
    windows, _ = window_examples(sentences, model.window_chars, model.window_stride)
    lengths = [len(w.text) for w in windows]
    batches = length_batches(lengths, settings.batch_size, np.random.default_rng(0))
    return [[{t.relation for t in windows[i].triples} for i in batch] for batch in batches]


def positive_types(batches: list[list[set[str]]]) -> list[list[int]]:
    """Per batch, each sentence's number of positive types: per sentence, a row scores max(NS, the batch's
    largest count) types, so NS values at or below that count train alike."""
    return [[len(types) for types in batch] for batch in batches]


def union_types(batches: list[list[set[str]]]) -> list[int]:
    """Distinct positive types per batch: what the per-batch scope (`ns_scope=batch`) always scores."""
    return [len(set().union(*batch)) for batch in batches]


def scored_types(positives: list[list[int]], ns: int, k: int, scope: str, union: list[int]) -> float:
    """Mean relation types scored per sentence at this NS (all K when NS >= K)."""
    if ns >= k:
        return float(k)
    if scope == "batch":
        return statistics.fmean(max(ns, u) for u in union)
    return statistics.fmean(min(k, max(ns, *batch)) for batch in positives)


def ns_statistics(config: StudyConfig, specs: list[str]) -> dict:
    """K, the arms' NS values, the split, the positive and scored relation types per sentence and batch."""
    settings = study.train_config(config, Arm("statistics"), seed=0)
    with tempfile.TemporaryDirectory(prefix="nrskg-quality-data-") as work:
        path, fmt = study.data(config, config.dataset, Path(work))
        docs = load_renamed(path, fmt, settings.relation_aliases)
    train_docs, val_docs = validation_split(docs, settings)
    k = len(relation_schema(train_docs))
    batches = training_batches(train_docs, settings)
    positives, union = positive_types(batches), union_types(batches)
    per_sentence = [p for batch in positives for p in batch]
    ns_by_arm = {arm.name: min(int(arm.settings["ns"]), k) for arm in ns_arms(specs, k)}
    return {
        "K": k,
        "ns_by_arm": ns_by_arm,
        "train_documents": len(train_docs),
        "val_documents": len(val_docs),
        "val_sentences": sum(len(d.examples) for d in val_docs),
        "positive_types_per_sentence": {
            "mean": statistics.fmean(per_sentence),
            "max": max(per_sentence),
            "share_with_none": sum(p == 0 for p in per_sentence) / len(per_sentence),
        },
        "positive_types_per_batch": {"mean": statistics.fmean(union), "max": max(union)},
        "scored_types_per_sentence": {
            name: round(scored_types(positives, ns, k, settings.ns_scope, union), 2)
            for name, ns in ns_by_arm.items()
        },
    }


def headline(results: dict) -> str | None:
    """NS = 10 against NS = K in validation F1, each as mean ± std over its seeds (None without both arms)."""
    rows = {row["arm"]: row for row in results.get("summary", [])}
    ten, every = rows.get("ns10"), rows.get("nsK")
    if ten is None or every is None:
        return None
    best = max(rows.values(), key=lambda r: r["f1_mean"])
    return (
        f"{results['config']['dataset']}: NS=10 {ten['f1_mean']:.3f} ± {ten['f1_std']:.3f} (n={ten['n']}) vs "
        f"NS=K={results['ns']['K']} {every['f1_mean']:.3f} ± {every['f1_std']:.3f} (n={every['n']}), "
        f"diff {ten['f1_mean'] - every['f1_mean']:+.3f}; best {best['arm']}"
    )


def ns_study(config: StudyConfig, specs: list[str], out: Path, argv: list[str]) -> dict:
    """The statistics, then every NS arm x seed through `benchmarks.study`; the headline joins the JSON."""
    stats = ns_statistics(config, specs)
    config.arms = ns_arms(specs, stats["K"])
    results = study.run(config, out, argv, prog="benchmarks.quality", notes={"ns": stats})
    results["headline"] = headline(results)
    write_json(out, results)
    return results


def parse_args(argv: list[str]) -> tuple[StudyConfig, list[str], Path, Path]:
    quick = f"tiny encoder, 4 DiaKG documents, 6 steps, NS {','.join(QUICK_NS)}"
    p = study.options("benchmarks.quality", __doc__.splitlines()[0], quick)
    p.add_argument(
        "--ns", help=f"comma-separated NS values, K: every relation type (default {','.join(NS_GRID)})"
    )
    args = p.parse_args(argv)
    config = study.configure(args, StudyConfig(**QUICK) if args.quick else StudyConfig(seeds=SEEDS))
    default = QUICK_NS if args.quick else NS_GRID
    specs = [s.strip() for s in args.ns.split(",") if s.strip()] if args.ns else default
    bad = [s for s in specs if s != "K" and not s.isdigit()]
    if bad:
        p.error(f"--ns takes whole numbers and K, not {bad}")
    return config, specs, *study.outputs(args, "quality", "quality_ns")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    log_progress(extractor=logging.WARNING)
    config, specs, out, plot = parse_args(argv)
    results = ns_study(config, specs, out, argv)
    scored = f"scored types per sentence: {results['ns']['scored_types_per_sentence']}"
    line = results["headline"] or "no headline: it needs the arms ns10 and nsK"
    study.report(results, config.arms, out, plot, "ns", scored, line)


if __name__ == "__main__":
    main()
