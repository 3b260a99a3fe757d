"""Does negative relation sampling pay off? OneRel (NS = K) against NRS-OneRel over an NS grid, same budget.

Every arm gets the same encoder, the same number of optimiser steps, the same seeds and the same validation
split (by document, from the training data: the held-out test sets are not here). The best validation F1 over
the run's evaluations is reported: validation is the only data used for model selection, so these numbers are
validation scores, slightly optimistic for a test set, but comparable across arms.

    python -m benchmarks.quality --quick          # tiny encoder, DiaKG subset, a few minutes on CPU
    python -m benchmarks.quality --datasets diakg,cmeie --encoder DIR --steps 600 --seeds 0,1,2 --device cuda
    python -m benchmarks.quality --merge part1.json part2.json --out all.json --plot docs/all.png

Writes JSON after every run (a killed run keeps what it finished), then a Markdown table and the NS curve.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from extractor.batching import length_batches
from extractor.configuration import LOSSES, TINY_TRAIN, NRSOneRelConfig, TrainConfig, with_settings
from extractor.datasets import Document, load, relation_schema, split_documents, window_examples
from extractor.encoders import TinyEncoderConfig
from extractor.train import METRICS_LOG, train

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"
RESULTS_DIR = REPO / "benchmarks" / "results"
DOCS_DIR = REPO / "docs"

# name -> (path under the data root, reader format)
DATASETS: dict[str, tuple[str, str]] = {
    "diakg": ("diakg/train", "diakg"),
    "ruijin": ("ruijin_round2/train", "ruijin"),
    "cmeie": ("cmeie/train.jsonl", "cmeie"),
    "duie": ("duie/train.jsonl", "duie"),
}
NS_GRID = ("2", "5", "10", "20", "K/2", "K")  # the paper's sweep; "K" is OneRel: every relation scored
HEADLINE = ("10", "K")  # the two arms that get every seed


@dataclass
class QualityConfig:
    datasets: list[str] = field(default_factory=lambda: ["diakg", "cmeie"])
    data_root: Path = DEFAULT_DATA_ROOT
    encoder: str = "tiny"
    steps: int = 600
    eval_every: int = 100
    batch_size: int = 16
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    curve_seeds: int = 1  # how many of `seeds` the non-headline arms get
    ns: list[str] = field(default_factory=lambda: list(NS_GRID))
    split_seed: int = 0  # one validation split for every arm and seed
    val_fraction: float = 0.15
    max_docs: int = 0  # 0: every document; else the first N files / lines (quick runs)
    device: str = "auto"
    amp: bool = True
    time_budget_s: float = 0.0  # 0: none; else runs not started within it are skipped (and listed)
    tiny: TinyEncoderConfig = field(default_factory=TinyEncoderConfig)
    window_chars: int = 200
    d_e: int = 256
    positive_weight: float = 1.0  # loss weight of marked cells (NRSOneRelConfig.positive_weight), every arm
    rates: str = "auto"  # "tiny": TINY_TRAIN's rates, "default": TrainConfig's; "auto": tiny for "tiny"
    loss: str = NRSOneRelConfig.loss
    ns_scope: str = TrainConfig.ns_scope  # "sentence" (the method) or "batch" (as first built)
    lr: float | None = None  # None: the rates preset's
    encoder_lr: float | None = None
    curves: bool = False  # score a training sample at every evaluation too (fitting curves)


QUICK = dict(
    datasets=["diakg"], steps=100, eval_every=100, max_docs=4, batch_size=8, window_chars=64, d_e=64,
    ns=["2", "10", "K"], seeds=[0],
)  # fmt: skip


def resolve_ns(specs: list[str], k: int) -> list[int]:
    """NS values for a data set with K relations: "K", "K/2" or numbers; values >= K collapse onto K."""
    values = set()
    for spec in specs:
        value = k if spec == "K" else max(1, k // 2) if spec == "K/2" else int(spec)
        values.add(min(value, k))
    return sorted(values)


def plan_runs(ns_values: list[int], k: int, seeds: list[int], curve_seeds: int) -> list[tuple[int, int]]:
    """(ns, seed) in the order they run: every arm on the first seed, then the headline arms' other seeds.

    The order matters under a time budget: the NS curve and the headline comparison come out first.
    """
    headline = {v for v in resolve_ns(list(HEADLINE), k) if v in ns_values}
    runs = [(ns, seeds[0]) for ns in ns_values]
    for seed in seeds[1:]:
        runs += [(ns, seed) for ns in ns_values if ns in headline]
    for seed in seeds[1:curve_seeds]:
        runs += [(ns, seed) for ns in ns_values if ns not in headline]
    return runs


def subset(path: Path, fmt: str, max_docs: int, workdir: Path) -> Path:
    """The first `max_docs` documents of a data set, into `workdir` (files of folders, lines of JSONL)."""
    if not max_docs:
        return path
    out = workdir / f"subset-{path.name}"
    if path.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        suffix = ".txt" if fmt == "ruijin" else ".json"
        for file in sorted(path.glob(f"*{suffix}"))[:max_docs]:
            for sibling in path.glob(file.stem + ".*"):  # Ruijin's .txt and .ann together
                shutil.copy(sibling, out / sibling.name)
        return out
    with path.open(encoding="utf-8") as f:
        out.write_text("".join(line for _, line in zip(range(max_docs), f, strict=False)), encoding="utf-8")
    return out


def positive_types(train_docs: list[Document], config: QualityConfig) -> list[list[int]]:
    """Per training batch (windows and length buckets as `train` makes them), each sentence's positive types.

    Per batch, NRS scores max(NS, the batch's union) types; per sentence, each row scores
    max(NS, the batch's largest sentence count) types. NS values at or below those train alike.
    """
    windows, batches = _training_batches(train_docs, config)
    return [[len({t.relation for t in windows[i].triples}) for i in batch] for batch in batches]


def union_types(train_docs: list[Document], config: QualityConfig) -> list[int]:
    """Distinct positive relation types per training batch (what the per-batch scope keeps)."""
    windows, batches = _training_batches(train_docs, config)
    return [len({t.relation for i in batch for t in windows[i].triples}) for batch in batches]


def _training_batches(train_docs: list[Document], config: QualityConfig) -> tuple[list, list[list[int]]]:
    """The training windows and their length-bucketed batches, as `train` makes them."""
    sentences = [example for doc in train_docs for example in doc.examples]
    windows, _ = window_examples(sentences, config.window_chars, config.window_chars * 3 // 4)
    return windows, length_batches(
        [len(w.text) for w in windows], config.batch_size, np.random.default_rng(0)
    )


def scored_types(positives: list[list[int]], ns: int, k: int, scope: str, union: list[int]) -> float:
    """Mean relation types scored per sentence at this NS (all K when NS >= K).

    `union` holds each batch's number of distinct positive types (the per-batch scope scores those).
    """
    if ns >= k:
        return float(k)
    if scope == "batch":
        return statistics.fmean(max(ns, u) for u in union)
    return statistics.fmean(min(k, max(ns, *batch)) for batch in positives)


def arm_summary(runs: list[dict]) -> list[dict]:
    """Mean, std (sample; 0 with one seed), min and max of P/R/F1 per NS arm."""
    rows = []
    for ns in sorted({r["ns"] for r in runs}):
        mine = [r for r in runs if r["ns"] == ns]
        row: dict[str, object] = {"ns": ns, "seeds": [r["seed"] for r in mine], "n": len(mine)}
        for metric in ("f1", "precision", "recall", "wall_s", "best_step"):
            values = [float(r[metric]) for r in mine]
            row[f"{metric}_mean"] = statistics.fmean(values)
            row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            row[f"{metric}_min"], row[f"{metric}_max"] = min(values), max(values)
        rows.append(row)
    return rows


def _best_record(out_dir: Path) -> dict:
    """The evaluation that picked the checkpoint: the first one with the best validation F1 (train's rule)."""
    records = [json.loads(line) for line in (out_dir / METRICS_LOG).read_text().splitlines() if line]
    best = max(records, key=lambda r: r["val_f1"])
    return next(r for r in records if r["val_f1"] == best["val_f1"])


def run_arm(
    data: Path, fmt: str, ns: int, seed: int, config: QualityConfig, overrides: dict | None = None
) -> dict:
    """Train one arm to the step budget; its best validation scores and its curve (every evaluation).

    `overrides` are training or model settings that set this arm apart (the recipe benchmark's arms).
    """
    # A random tiny encoder learns only with the extractor's tiny preset (large rates, no dropout).
    tiny_rates = config.rates == "tiny" or (config.rates == "auto" and config.encoder == "tiny")
    preset = TINY_TRAIN if tiny_rates else TrainConfig()
    train_config = with_settings(
        preset,
        lr=preset.lr if config.lr is None else config.lr,
        encoder_lr=preset.encoder_lr if config.encoder_lr is None else config.encoder_lr,
        loss=config.loss,
        ns_scope=config.ns_scope,
        curves=config.curves,
        ns=ns,
        seed=seed,
        split_seed=config.split_seed,
        val_fraction=config.val_fraction,
        max_steps=config.steps,
        epochs=10**6,  # the step budget decides, not epochs
        eval_every=config.eval_every,
        patience=10**6,  # no early stop: every arm gets the same budget; validation picks the checkpoint
        batch_size=config.batch_size,
        device=config.device,
        amp=config.amp,
        window_chars=config.window_chars,
        d_e=config.d_e,
        positive_weight=config.positive_weight,
        train_eval_limit=200,
    )
    train_config = with_settings(train_config, **(overrides or {}))
    with tempfile.TemporaryDirectory(prefix="nrskg-quality-") as out:
        result = train(data, fmt, config.encoder, out, train_config, config.tiny, progress=False)
        best = _best_record(Path(out))
        curve = [json.loads(line) for line in (Path(out) / METRICS_LOG).read_text().splitlines() if line]
    return {
        "ns": ns,
        "seed": seed,
        "f1": best["val_f1"],
        "precision": best["val_precision"],
        "recall": best["val_recall"],
        "best_step": best["step"],
        "train_f1": result.train_f1,
        "steps": result.steps,
        "wall_s": round(result.wall_time_s, 2),
        "curve": curve,
    }


def machine() -> dict[str, object]:
    info: dict[str, object] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run(config: QualityConfig, out_json: Path, argv: list[str] | None = None) -> dict:
    """Every arm on every data set; `out_json` is rewritten after each run."""
    started = time.perf_counter()
    results: dict = {
        "command": " ".join(["python -m benchmarks.quality", *(argv or [])]),
        "config": {**asdict(config), "data_root": str(config.data_root)},
        "machine": machine(),
        "datasets": {},
        "skipped": [],
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nrskg-quality-data-") as workdir:
        for name in config.datasets:
            relative, fmt = DATASETS[name]
            data = subset(config.data_root / relative, fmt, config.max_docs, Path(workdir))
            docs = load(data, fmt)
            train_docs, val_docs = split_documents(docs, config.val_fraction, config.split_seed)
            k = len(relation_schema(train_docs))
            ns_values = resolve_ns(config.ns, k)
            positives = positive_types(train_docs, config)
            union = union_types(train_docs, config)
            per_sentence = [p for batch in positives for p in batch]
            entry = {
                "format": fmt,
                "K": k,
                "ns_values": ns_values,
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
                    str(ns): round(scored_types(positives, ns, k, config.ns_scope, union), 2)
                    for ns in ns_values
                },
                "runs": [],
                "summary": [],
            }
            results["datasets"][name] = entry
            for ns, seed in plan_runs(ns_values, k, config.seeds, config.curve_seeds):
                elapsed = time.perf_counter() - started
                if config.time_budget_s and elapsed > config.time_budget_s:
                    results["skipped"].append({"dataset": name, "ns": ns, "seed": seed})
                    continue
                record = run_arm(data, fmt, ns, seed, config)
                log.info("%s NS=%d seed=%d: F1 %.4f (%.1f s)", name, ns, seed, record["f1"], record["wall_s"])
                entry["runs"].append(record)
                entry["summary"] = arm_summary(entry["runs"])
                results["wall_s"] = round(time.perf_counter() - started, 1)
                out_json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    results["wall_s"] = round(time.perf_counter() - started, 1)
    out_json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def merge(paths: list[Path]) -> dict:
    """One result from several partial ones (runs split over processes): runs pooled, summaries recomputed.

    Files must agree on the settings that make arms comparable (steps, batch size, split, encoder is listed).
    """
    parts = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    same = ("steps", "batch_size", "split_seed", "val_fraction", "eval_every", "max_docs", "positive_weight")
    for part in parts[1:]:
        differ = [k for k in same if part["config"].get(k, 1.0) != parts[0]["config"].get(k, 1.0)]
        if differ:
            raise ValueError(f"cannot merge runs that differ in {differ}")
    merged = {
        "commands": [p["command"] for p in parts],
        "config": parts[0]["config"],
        "encoders": sorted({p["config"]["encoder"] for p in parts}),
        "machine": parts[0]["machine"],
        "datasets": {},
        "skipped": [s for p in parts for s in p["skipped"]],
        "wall_s_per_process": [p.get("wall_s") for p in parts],
    }
    for part in parts:
        for name, entry in part["datasets"].items():
            into = merged["datasets"].setdefault(name, {**entry, "runs": []})
            for key, value in entry.items():  # statistics that only newer parts record
                into.setdefault(key, value)
            seen = {(r["ns"], r["seed"]) for r in into["runs"]}
            into["runs"] += [r for r in entry["runs"] if (r["ns"], r["seed"]) not in seen]
    for entry in merged["datasets"].values():
        entry["runs"].sort(key=lambda r: (r["ns"], r["seed"]))
        entry["summary"] = arm_summary(entry["runs"])
    return merged


def markdown_table(results: dict) -> str:
    """One row per data set and arm: P/R/F1 as mean ± std (min-max of F1) over its seeds."""
    rows = [
        "| data set | K | arm | NS | seeds | P | R | F1 mean ± std | F1 min-max | s/run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in results["datasets"].items():
        for row in entry["summary"]:
            arm = "OneRel (all K)" if row["ns"] == entry["K"] else "NRS-OneRel"
            rows.append(
                f"| {name} | {entry['K']} | {arm} | {row['ns']} | {row['n']} "
                f"| {row['precision_mean']:.3f} | {row['recall_mean']:.3f} "
                f"| {row['f1_mean']:.3f} ± {row['f1_std']:.3f} | {row['f1_min']:.3f}-{row['f1_max']:.3f} "
                f"| {row['wall_s_mean']:.0f} |"
            )
    return "\n".join(rows)


def headline(results: dict) -> list[str]:
    """Per data set: NS=10 minus NS=K in F1, next to the seed spread of both arms."""
    lines = []
    for name, entry in results["datasets"].items():
        by_ns = {row["ns"]: row for row in entry["summary"]}
        ten, every = by_ns.get(min(10, entry["K"])), by_ns.get(entry["K"])
        if ten is None or every is None or ten is every:
            continue
        diff = ten["f1_mean"] - every["f1_mean"]
        best = max(entry["summary"], key=lambda r: r["f1_mean"])
        lines.append(
            f"{name}: NS=10 {ten['f1_mean']:.3f} ± {ten['f1_std']:.3f} vs NS=K={entry['K']} "
            f"{every['f1_mean']:.3f} ± {every['f1_std']:.3f} (diff {diff:+.3f}); best NS {best['ns']}"
        )
    return lines


def parse_args(argv: list[str]) -> tuple[QualityConfig, Path, Path, list[Path]]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny encoder, DiaKG's first 4 documents, 100 steps")
    p.add_argument("--datasets", help=f"comma-separated, from {', '.join(DATASETS)} (default diakg,cmeie)")
    p.add_argument("--data-root", type=Path, help="folder holding the data sets (default ../shared/data)")
    p.add_argument("--encoder", help="'tiny' or a HuggingFace encoder directory (default tiny)")
    p.add_argument("--steps", type=int, help="optimiser steps per run (same for every arm)")
    p.add_argument("--eval-every", type=int, help="steps between validation evaluations")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--d-e", type=int, help="width of the pair projection (default 256)")
    p.add_argument(
        "--positive-weight", type=float, help="loss weight of marked cells, same for every arm (default 1)"
    )
    p.add_argument("--window-chars", type=int, help="characters per training/evaluation window (default 200)")
    p.add_argument("--loss", choices=LOSSES, help=f"loss of every arm (default {NRSOneRelConfig.loss})")
    p.add_argument("--ns-scope", choices=("sentence", "batch"), help="negatives per sentence or batch")
    p.add_argument("--lr", type=float, help="head learning rate (default: the rates preset's)")
    p.add_argument("--encoder-lr", type=float, help="encoder learning rate (default: the rates preset's)")
    p.add_argument("--rates", choices=("auto", "tiny", "default"), help="learning-rate preset (default auto)")
    p.add_argument("--curves", action="store_true", help="also score training F1 at every evaluation")
    p.add_argument(
        "--seeds", help="comma-separated training seeds; the headline arms get all (default 0,1,2)"
    )
    p.add_argument("--curve-seeds", type=int, help="how many seeds the other NS arms get (default 1)")
    p.add_argument(
        "--ns", help=f"comma-separated NS values, 'K' and 'K/2' allowed (default {','.join(NS_GRID)})"
    )
    p.add_argument(
        "--max-docs", type=int, help="only the first N documents (files or lines) of each data set"
    )
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--time-budget", type=float, help="seconds; runs not started within it are skipped")
    p.add_argument("--out", type=Path, help="JSON to write (default benchmarks/results/quality[_quick].json)")
    p.add_argument("--plot", type=Path, help="PNG of the NS curve (default docs/quality_ns[_quick].png)")
    p.add_argument(
        "--merge", type=Path, nargs="+", default=[],
        help="pool these result files (runs split over processes) into --out instead of running",
    )  # fmt: skip
    args = p.parse_args(argv)

    config = QualityConfig(**QUICK) if args.quick else QualityConfig()
    if args.datasets:
        config.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
        unknown = set(config.datasets) - set(DATASETS)
        if unknown:
            p.error(f"unknown data sets {sorted(unknown)}; choose from {', '.join(DATASETS)}")
    if args.seeds:
        config.seeds = [int(s) for s in args.seeds.split(",")]
    if args.ns:
        config.ns = [s.strip() for s in args.ns.split(",")]
    for option, attribute in (
        ("data_root", "data_root"), ("encoder", "encoder"), ("steps", "steps"), ("eval_every", "eval_every"),
        ("batch_size", "batch_size"), ("window_chars", "window_chars"), ("curve_seeds", "curve_seeds"),
        ("max_docs", "max_docs"), ("device", "device"), ("time_budget", "time_budget_s"), ("d_e", "d_e"),
        ("positive_weight", "positive_weight"), ("loss", "loss"), ("ns_scope", "ns_scope"), ("lr", "lr"),
        ("encoder_lr", "encoder_lr"), ("rates", "rates"),
    ):  # fmt: skip
        value = getattr(args, option)
        if value is not None:
            setattr(config, attribute, value)
    config.curves = config.curves or args.curves
    suffix = "_quick" if args.quick else ""
    out = args.out or RESULTS_DIR / f"quality{suffix}.json"
    plot = args.plot or DOCS_DIR / f"quality_ns{suffix}.png"
    return config, out, plot, args.merge


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("extractor").setLevel(logging.WARNING)
    config, out, plot, parts = parse_args(argv)
    if parts:
        results = merge(parts)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    else:
        results = run(config, out, argv)
    print(markdown_table(results))
    print("\n".join(headline(results)))
    try:
        from benchmarks.plots import ns_curve
    except ImportError as e:  # matplotlib is a dev dependency; the GPU machine has none
        log.warning("no plot (%s): run `python -m benchmarks.plots %s` where matplotlib is installed", e, out)
    else:
        ns_curve([out], plot)
        print(f"results: {out}\nplot: {plot}")


if __name__ == "__main__":
    main()
