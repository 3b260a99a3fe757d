"""What does domain-adaptive pretraining add? An encoder against its MLM-continued copy, same fine-tuning.

The study behind `nrskg pretrain`: build the unlabelled corpus (`benchmarks.pretrain_corpus`: DiaKG + Ruijin
train text without anything linked to DiaKG's validation documents, segmented by jieba with a dictionary of
the training entities), continue masked-language-model training with whole-word masking, then fine-tune
NRS-OneRel on DiaKG from each encoder as two arms of `benchmarks.study`, `original:encoder=DIR` and
`pretrained:encoder=DIR` (same settings, seeds and validation split). `--encoder tiny` (the default) builds
one random tiny encoder whose vocabulary is the corpus's characters and uses it for both arms, so the
pretraining is the only difference.

    python -m benchmarks.pretraining --quick       # a few minutes on CPU
    python -m benchmarks.pretraining --encoder DIR --pretrain-steps 2000 --set device=cuda max_steps=5000
"""

from __future__ import annotations

import logging
import sys
import tempfile
from dataclasses import asdict
from functools import partial
from pathlib import Path

from benchmarks import study
from benchmarks.common import log_progress
from benchmarks.pretrain_corpus import build as build_corpus
from benchmarks.study import Arm, StudyConfig
from extractor.encoders import TINY, build_tiny_encoder
from extractor.pretrain import PretrainConfig, pretrain
from extractor.texts import read_texts
from pipeline.reading import json_texts

TINY_PRETRAIN_LR = 1e-3  # a random 2-layer encoder needs far more than BERT's continued-pretraining 5e-5
LOSS_POINTS = 50  # the MLM loss curve is stored at this many evenly spaced steps
# Fine-tuning settings of both arms: equal steps, validation every quarter.
SETTINGS = {"max_steps": 600, "eval_every": 150, "window_chars": 128, "d_e": 128}
PRESET = dict(dataset="diakg", seeds=[0, 1, 2], common=SETTINGS)
QUICK = dict(dataset="diakg", max_docs=8, seeds=[0], common={**study.QUICK["common"], "eval_every": 6})
QUICK_PRETRAIN_STEPS = 40


def pretraining_study(config: StudyConfig, pre: PretrainConfig, out: Path, argv: list[str]) -> dict:
    """Corpus, pretraining, then both encoders' arms x seeds through `benchmarks.study`."""
    with tempfile.TemporaryDirectory(prefix="nrskg-pretraining-") as work:
        words = Path(work) / "words.jsonl"
        settings = study.train_config(config, Arm("corpus"), seed=0)  # the split fine-tuning makes
        paths = [study.data(config, name, Path(work))[0] for name in ("diakg", "ruijin")]
        corpus = build_corpus(*paths, words, settings)
        texts = [segmented for _, segmented in read_texts(words, json_texts=partial(json_texts, words=True))]
        original = config.encoder
        if original == TINY:  # one random encoder for both arms, with every character of the corpus
            original = str(build_tiny_encoder(["".join(w) for w in texts], Path(work) / "original"))
        result = pretrain(original, texts, Path(work) / "pretrained", pre, progress=False)
        every = max(1, len(result.losses) // LOSS_POINTS)
        pretraining = {
            "config": asdict(pre), "first_loss": result.first_loss, "last_loss": result.last_loss,
            "steps": result.steps, "chunks": result.chunks, "wall_s": result.wall_time_s,
            "losses": {str(i + 1): result.losses[i] for i in range(0, len(result.losses), every)},
        }  # fmt: skip
        config.arms = [Arm("original", encoder=original), Arm("pretrained", encoder=str(result.out_dir))]
        notes = {"corpus": corpus, "pretraining": pretraining}
        return study.run(config, out, argv, prog="benchmarks.pretraining", notes=notes)


def difference(rows: list[dict]) -> str | None:
    """Mean validation F1 of the pretrained arm minus the original's (None until both have finished runs)."""
    f1 = {row["arm"]: row["f1_mean"] for row in rows}
    if {"original", "pretrained"} <= f1.keys():
        return f"pretrained - original: {f1['pretrained'] - f1['original']:+.3f} F1"
    return None


def parse_args(argv: list[str]) -> tuple[StudyConfig, PretrainConfig, Path, Path]:
    quick = f"{QUICK_PRETRAIN_STEPS} MLM steps, DiaKG's first 8 documents, 6 fine-tuning steps, one seed"
    p = study.options("benchmarks.pretraining", __doc__.splitlines()[0], quick)
    p.add_argument("--pretrain-steps", type=int, help="MLM steps (default 1000)")
    p.add_argument(
        "--pretrain-lr", type=float, help=f"MLM learning rate (default {TINY_PRETRAIN_LR} tiny, else 5e-5)"
    )
    args = p.parse_args(argv)
    if args.dataset not in (None, "diakg"):
        p.error(
            "the pretraining corpus leaves out DiaKG's validation documents: the study fine-tunes on diakg"
        )
    config = study.configure(args, StudyConfig(**(QUICK if args.quick else PRESET)))
    pre = PretrainConfig(steps=args.pretrain_steps or (QUICK_PRETRAIN_STEPS if args.quick else 1000))
    pre.lr = args.pretrain_lr or (TINY_PRETRAIN_LR if config.encoder == TINY else pre.lr)
    pre.device = study.train_config(config, Arm("pretraining"), seed=0).device
    return config, pre, *study.outputs(args, "pretraining", "pretraining")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    log_progress(extractor=logging.WARNING)
    config, pre, out, plot = parse_args(argv)
    results = pretraining_study(config, pre, out, argv)
    mlm = results["pretraining"]
    loss = f"MLM loss {mlm['first_loss']:.3f} -> {mlm['last_loss']:.3f} "
    loss += f"({mlm['steps']} steps, {mlm['wall_s']:.0f} s)"
    diff = difference(results.get("summary", [])) or "no difference: an arm has no finished run"
    study.report(results, config.arms, out, plot, "study", loss, diff)


if __name__ == "__main__":
    main()
