"""Which training recipe fits? Named arms (loss, learning rates, head width, dropout) at equal steps.

Every arm trains the same encoder on the same documents and validation split for the same number of steps
at the same NS; only its overrides of `TrainConfig` differ. Each evaluation scores the validation split and
a fixed sample of training sentences, so the curves show fitting (train F1) and generalising (validation F1).

    python -m benchmarks.recipe --encoder DIR --arms softmax,softmax-w5,bce,focal,mcce --steps 600
    python -m benchmarks.recipe --merge a.json b.json --out all.json --plot docs/recipe_curves.png

Writes JSON after every arm (a killed run keeps what it finished), then a Markdown table and the curves.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.quality import DATASETS, DOCS_DIR, RESULTS_DIR, QualityConfig, machine, run_arm, subset

log = logging.getLogger(__name__)

# name -> TrainConfig overrides. "softmax" is the first model's loss; "softmax-w5" the best earlier weighting.
ARMS: dict[str, dict[str, object]] = {
    "softmax": {"loss": "softmax"},
    "softmax-w5": {"loss": "softmax", "positive_weight": 5.0},
    "bce": {"loss": "bce"},
    "bce-w30": {"loss": "bce", "positive_weight": 30.0},
    "focal": {"loss": "focal"},
    "mcce": {"loss": "mcce"},
    "mcce-pair-dropout": {"loss": "mcce", "pair_dropout": True},
    "mcce-d128": {"loss": "mcce", "d_e": 128},
    "mcce-lr1e-3": {"loss": "mcce", "lr": 1e-3, "encoder_lr": 1e-4},
    "mcce-lr3e-3": {"loss": "mcce", "lr": 3e-3, "encoder_lr": 2e-4},
}
LOSS_ARMS = ("softmax", "softmax-w5", "bce", "focal", "mcce")


def summarise(arm: str, record: dict) -> dict:
    """The arm's best validation scores and how well it fit: train F1 at that evaluation and at the last."""
    curve = record["curve"]
    best = max(curve, key=lambda r: r["val_f1"])
    return {
        "arm": arm,
        "overrides": ARMS.get(arm, {}),
        "val_f1": best["val_f1"],
        "val_precision": best["val_precision"],
        "val_recall": best["val_recall"],
        "best_step": best["step"],
        "train_f1_at_best": best.get("train_f1"),
        "train_f1_last": curve[-1].get("train_f1"),
        "wall_s": record["wall_s"],
        "curve": curve,
    }


def run(config: QualityConfig, arms: list[str], out_json: Path, argv: list[str]) -> dict:
    """Every arm on the first data set of `config`, one seed; `out_json` is rewritten after each arm."""
    name = config.datasets[0]
    relative, fmt = DATASETS[name]
    results: dict = {
        "command": " ".join(["python -m benchmarks.recipe", *argv]),
        "dataset": name,
        "config": {**config.__dict__, "data_root": str(config.data_root), "tiny": None},
        "machine": machine(),
        "arms": [],
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nrskg-recipe-data-") as workdir:
        data = subset(config.data_root / relative, fmt, config.max_docs, Path(workdir))
        for arm in arms:
            ns = int(ARMS.get(arm, {}).get("ns", config.ns[0]))
            record = run_arm(data, fmt, ns, config.seeds[0], config, ARMS[arm])
            results["arms"].append(summarise(arm, record))
            log.info("%s: val F1 %.4f, train F1 %s (%.0f s)", arm, results["arms"][-1]["val_f1"],
                     results["arms"][-1]["train_f1_at_best"], record["wall_s"])  # fmt: skip
            results["wall_s"] = round(time.perf_counter() - started, 1)
            out_json.parent.mkdir(parents=True, exist_ok=True)
            out_json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def merge(paths: list[Path]) -> dict:
    """The arms of several result files (arms run in parallel processes) in one result."""
    parts = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    same = ("steps", "batch_size", "split_seed", "val_fraction", "eval_every", "max_docs", "window_chars")
    for part in parts[1:]:
        differ = [k for k in same if part["config"].get(k) != parts[0]["config"].get(k)]
        if differ or part["dataset"] != parts[0]["dataset"]:
            raise ValueError(f"cannot merge arms that differ in {differ or ['dataset']}")
    return {
        **parts[0],
        "commands": [p["command"] for p in parts],
        "arms": [a for p in parts for a in p["arms"]],
    }


def markdown_table(results: dict) -> str:
    rows = [
        "| arm | overrides | best val F1 | P | R | at step | train F1 there | train F1 last | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    for a in results["arms"]:
        overrides = ", ".join(f"{k}={v}" for k, v in a["overrides"].items())
        rows.append(
            f"| {a['arm']} | {overrides} | {a['val_f1']:.3f} | {a['val_precision']:.3f} "
            f"| {a['val_recall']:.3f} "
            f"| {a['best_step']} | {f(a['train_f1_at_best'])} | {f(a['train_f1_last'])} | {a['wall_s']:.0f} |"
        )
    return "\n".join(rows)


def parse_args(argv: list[str]) -> tuple[QualityConfig, list[str], Path, Path, list[Path]]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.recipe", description=__doc__.splitlines()[0])
    p.add_argument("--arms", default=",".join(LOSS_ARMS), help=f"comma-separated, from {', '.join(ARMS)}")
    p.add_argument("--dataset", default="diakg", choices=list(DATASETS))
    p.add_argument("--data-root", type=Path, help="folder holding the data sets (default ../shared/data)")
    p.add_argument("--encoder", default="tiny", help="'tiny' or a HuggingFace encoder directory")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--window-chars", type=int, default=128)
    p.add_argument("--ns", default="10", help="relation types scored per sentence, every arm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-docs", type=int, default=0, help="only the first N documents (0: all)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "recipe.json")
    p.add_argument("--plot", type=Path, default=DOCS_DIR / "recipe_curves.png")
    p.add_argument("--merge", type=Path, nargs="+", default=[], help="pool these result files instead")
    args = p.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        p.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    config = QualityConfig(
        datasets=[args.dataset], encoder=args.encoder, steps=args.steps, eval_every=args.eval_every,
        batch_size=args.batch_size, window_chars=args.window_chars, ns=[args.ns], seeds=[args.seed],
        max_docs=args.max_docs, device=args.device, rates="default", split_seed=0, curves=True,
    )  # fmt: skip
    if args.data_root:
        config.data_root = args.data_root
    return config, arms, args.out, args.plot, args.merge


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("extractor").setLevel(logging.WARNING)
    config, arms, out, plot, parts = parse_args(argv)
    if parts:
        results = merge(parts)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    else:
        results = run(config, arms, out, argv)
    print(markdown_table(results))
    try:
        from benchmarks.plots import recipe_curves
    except ImportError as e:  # matplotlib is a dev dependency
        log.warning("no plot (%s)", e)
    else:
        print(f"results: {out}\nplot: {recipe_curves(results, plot)}")


if __name__ == "__main__":
    main()
