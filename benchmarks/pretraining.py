"""What does domain-adaptive pretraining add? An encoder against its MLM-continued copy, same fine-tuning.

The study behind `nrskg pretrain`: build the unlabelled corpus (`benchmarks.pretrain_corpus`: DiaKG + Ruijin
train text without anything linked to DiaKG's validation documents, segmented by jieba with a dictionary of
the training entities), continue masked-language-model training with whole-word masking, then fine-tune
NRS-OneRel on DiaKG from the original and from the pretrained encoder with `benchmarks.quality`'s protocol
(same NS, steps, seeds and validation split). `--encoder tiny` (the default) builds one random tiny encoder
whose vocabulary is the corpus's characters and uses it for both arms, so the pretraining is the only
difference.

    python -m benchmarks.pretraining --quick       # a few minutes on CPU
    python -m benchmarks.pretraining --encoder DIR --device cuda --pretrain-steps 2000 --steps 5000
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from benchmarks.pretrain_corpus import build as build_corpus
from benchmarks.quality import DATASETS, RESULTS_DIR, QualityConfig, arm_summary, machine, run_arm
from extractor.encoders import TINY, build_tiny_encoder
from extractor.pretrain import PretrainConfig, pretrain, read_texts

log = logging.getLogger(__name__)

DATASET = "diakg"  # the question: what pretraining adds on DiaKG
TINY_PRETRAIN_LR = 1e-3  # a random 2-layer encoder needs far more than BERT's continued-pretraining 5e-5
LOSS_POINTS = 50  # the MLM loss curve is stored at this many evenly spaced steps


@dataclass
class PretrainingStudy:
    quality: QualityConfig = field(
        default_factory=lambda: QualityConfig(
            datasets=[DATASET], ns=["10"], steps=600, eval_every=150, batch_size=16, window_chars=128,
            d_e=128, positive_weight=30.0,
        )
    )  # fmt: skip
    pretrain: PretrainConfig = field(default_factory=lambda: PretrainConfig(steps=1000, batch_size=32))


QUICK = dict(steps=60, eval_every=60, seeds=[0])  # fine-tuning settings of --quick
QUICK_PRETRAIN_STEPS = 40


def study(config: PretrainingStudy, out_json: Path, argv: list[str] | None = None) -> dict:
    """Corpus, pretraining, then every seed from both encoders; `out_json` is rewritten after each run."""
    started = time.perf_counter()
    q = config.quality
    relative, fmt = DATASETS[DATASET]
    data = q.data_root / relative
    results: dict = {
        "command": " ".join(["python -m benchmarks.pretraining", *(argv or [])]),
        "config": {
            "quality": {**asdict(q), "data_root": str(q.data_root)},
            "pretrain": asdict(config.pretrain),
        },
        "machine": machine(),
        "runs": [],
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nrskg-pretraining-") as work:
        words = Path(work) / "words.jsonl"
        results["corpus"] = build_corpus(q.data_root, words, q.split_seed, q.val_fraction)
        texts = read_texts(words)
        base = q.encoder
        if base == TINY:  # one random encoder for both arms, with every character of the corpus
            base = str(build_tiny_encoder(["".join(w) for w in texts], Path(work) / "base", q.tiny))
        result = pretrain(base, texts, Path(work) / "pretrained", config.pretrain, progress=False)
        every = max(1, len(result.losses) // LOSS_POINTS)
        results["pretraining"] = {
            "first_loss": result.first_loss, "last_loss": result.last_loss, "steps": result.steps,
            "chunks": result.chunks, "wall_s": result.wall_time_s,
            "losses": {str(i + 1): result.losses[i] for i in range(0, len(result.losses), every)},
        }  # fmt: skip
        rates = "tiny" if q.encoder == TINY else q.rates
        for arm, encoder in (("original", base), ("pretrained", str(result.out_dir))):
            for seed in q.seeds:
                record = run_arm(data, fmt, int(q.ns[0]), seed, replace(q, encoder=encoder, rates=rates))
                log.info("%s seed=%d: F1 %.4f (%.1f s)", arm, seed, record["f1"], record["wall_s"])
                results["runs"].append({"encoder": arm, **record})
                results["summary"] = summarise(results["runs"])
                results["wall_s"] = round(time.perf_counter() - started, 1)
                out_json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def summarise(runs: list[dict]) -> dict[str, dict]:
    """Mean, std, min and max per encoder arm (quality's summary, grouped by encoder instead of NS)."""
    arms = dict.fromkeys(r["encoder"] for r in runs)  # in run order
    return {arm: arm_summary([r for r in runs if r["encoder"] == arm])[0] for arm in arms}


def markdown_table(results: dict) -> str:
    rows = [
        "| encoder | seeds | P | R | F1 mean ± std | F1 min-max | s/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm, row in results["summary"].items():
        rows.append(
            f"| {arm} | {row['n']} | {row['precision_mean']:.3f} | {row['recall_mean']:.3f} "
            f"| {row['f1_mean']:.3f} ± {row['f1_std']:.3f} | {row['f1_min']:.3f}-{row['f1_max']:.3f} "
            f"| {row['wall_s_mean']:.0f} |"
        )
    summary = results["summary"]
    if {"original", "pretrained"} <= summary.keys():
        diff = summary["pretrained"]["f1_mean"] - summary["original"]["f1_mean"]
        rows.append(f"\npretrained - original: {diff:+.3f} F1")
    return "\n".join(rows)


def parse_args(argv: list[str]) -> tuple[PretrainingStudy, Path]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pretraining", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="40 pretraining steps, 60 fine-tuning steps, one seed"
    )
    p.add_argument("--data-root", type=Path, help="folder holding the data sets (default ../shared/data)")
    p.add_argument("--encoder", help="'tiny' or a HuggingFace encoder directory (default tiny)")
    p.add_argument("--pretrain-steps", type=int, help="MLM steps (default 1000)")
    p.add_argument(
        "--pretrain-lr", type=float, help=f"MLM learning rate (default {TINY_PRETRAIN_LR} tiny, else 5e-5)"
    )
    p.add_argument("--steps", type=int, help="fine-tuning steps per run (default 600)")
    p.add_argument("--eval-every", type=int)
    p.add_argument("--seeds", help="comma-separated fine-tuning seeds (default 0,1,2)")
    p.add_argument("--ns", help="relation types sampled per batch in fine-tuning (default 10)")
    p.add_argument("--positive-weight", type=float, help="loss weight of marked cells (default 30)")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument(
        "--out", type=Path, help="JSON to write (default benchmarks/results/pretraining[_quick].json)"
    )
    args = p.parse_args(argv)

    config = PretrainingStudy()
    q, pre = config.quality, config.pretrain
    if args.quick:
        for attribute, value in QUICK.items():
            setattr(q, attribute, value)
        pre.steps = QUICK_PRETRAIN_STEPS
    for option, attribute in (
        ("data_root", "data_root"), ("encoder", "encoder"), ("steps", "steps"), ("eval_every", "eval_every"),
        ("positive_weight", "positive_weight"), ("device", "device"),
    ):  # fmt: skip
        if getattr(args, option) is not None:
            setattr(q, attribute, getattr(args, option))
    if args.seeds:
        q.seeds = [int(s) for s in args.seeds.split(",")]
    if args.ns:
        q.ns = [args.ns]
    pre.steps = args.pretrain_steps or pre.steps
    pre.lr = args.pretrain_lr or (TINY_PRETRAIN_LR if q.encoder == TINY else pre.lr)
    pre.device = q.device
    out = args.out or RESULTS_DIR / f"pretraining{'_quick' if args.quick else ''}.json"
    return config, out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("extractor").setLevel(logging.WARNING)
    config, out = parse_args(argv)
    results = study(config, out, argv)
    pre = results["pretraining"]
    print(
        f"MLM loss {pre['first_loss']:.3f} -> {pre['last_loss']:.3f}",
        f"({pre['steps']} steps, {pre['wall_s']:.0f} s)",
    )
    print(markdown_table(results))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
