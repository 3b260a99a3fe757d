"""Training recipes side by side: arms of `TrainConfig` settings x seeds, each run in a process of its own.

An arm is `NAME` or `NAME:key=value,key=value` with keys of `TrainConfig` or its model config (`d_e=1536`,
`lr=3e-3`, `ns=K` for every relation type, `relation_aliases=SideEff-Drug=ADE_Drug;Other=`) plus
`extra=ruijin` (data sets added to training, `+`-separated), `encoder=DIR` (this arm's encoder in place of
the study's, e.g. a further pretrained copy; its settings still start from the study encoder's defaults) and
`first=ruijin,first_steps=1000` (intermediate training: a model trained that many steps on that data set, less
its documents that share text with the validation documents, whose encoder the arm then starts from; the arm's
`relation_aliases` apply to that first training only).
`--set` applies to every arm. All arms train on the same data set and validation split; each evaluation
scores the validation documents and a fixed sample of training sentences, so the curves show both fitting
and generalising. Runs go `--parallel` at a time (a GPU holds many small models at once), each with
`--threads` CPU threads, and one that passes `--arm-timeout` is stopped and keeps the curve it reached.

    python -m benchmarks.study --encoder DIR --arms base "wide:d_e=1536" "hot:lr=3e-3" \\
        --set epochs=8 window_chars=128 --parallel 2 --threads 1 --out benchmarks/results/study.json
    python -m benchmarks.study --quick              # tiny encoder, 4 DiaKG documents, a smoke run

Writes the JSON after every finished run, then prints a table (mean ± std over seeds) and draws the curves.
`benchmarks.quality` (a grid of NS) and `benchmarks.pretraining` (an encoder against its pretrained copy) are
studies built on this one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from benchmarks.common import (
    DATA_ROOT,
    DOCS_DIR,
    REPO,
    RESULTS_DIR,
    first_lines,
    log_progress,
    machine,
    write_json,
)
from extractor.configuration import TrainConfig, defaults_for, parse_settings, with_settings
from extractor.datasets.corpora import Corpus, load_extra
from extractor.encoders import TINY
from extractor.model import NRSOneRelModel
from extractor.splitting import WindowConfig
from extractor.train import METRICS_FILE, METRICS_LOG, split_as_trained, train

log = logging.getLogger(__name__)

# name -> (path under the data root, reader format)
DATASETS: dict[str, tuple[str, str]] = {
    "diakg": ("diakg/train", "diakg"),
    "ruijin": ("ruijin_round2/train", "ruijin"),
    "cmeie": ("cmeie/train.jsonl", "cmeie"),
    "duie": ("duie/train.jsonl", "duie"),
}
EVERY_RELATION = 10**6  # `ns=K`: NS at or above K scores every relation type (OneRel)


@dataclass
class Arm:
    name: str
    settings: dict[str, object] = field(default_factory=dict)  # TrainConfig / model settings
    extra: list[str] = field(default_factory=list)  # data set names added to training
    encoder: str | None = None  # this arm's encoder; None: the study's
    first: str | None = None  # a data set trained on first, whose model's encoder the arm starts from
    first_steps: int = 0

    @classmethod
    def parse(cls, spec: str) -> Arm:
        name, _, rest = spec.partition(":")
        pairs = dict(p.partition("=")[::2] for p in rest.split(",") if p)
        extra = [d for d in pairs.pop("extra", "").split("+") if d]
        encoder = pairs.pop("encoder", None)
        first, first_steps = pairs.pop("first", None), int(pairs.pop("first_steps", 0))
        if pairs.get("ns") == "K":
            pairs["ns"] = str(EVERY_RELATION)
        return cls(name, parse_settings(pairs), extra, encoder, first, first_steps)


@dataclass
class StudyConfig:
    dataset: str = "diakg"
    data_root: Path = DATA_ROOT
    encoder: str = TINY
    arms: list[Arm] = field(default_factory=lambda: [Arm("default")])
    common: dict[str, object] = field(default_factory=dict)  # settings of every arm
    seeds: list[int] = field(default_factory=lambda: [0])
    max_docs: int = 0  # 0: every document; else the first N files / lines (quick runs)
    parallel: int = 1
    threads: int = 0  # torch CPU threads per run; 0: the machine's cores split over `parallel`
    arm_timeout_s: float = 0.0  # 0: none


QUICK = dict(
    encoder=TINY, max_docs=4, arms=[Arm("default"), Arm("ns-all", {"ns": EVERY_RELATION})],
    common={"max_steps": 6, "eval_every": 3, "window_chars": 64, "batch_size": 4, "d_e": 32,
            "train_eval_limit": 20},
)  # fmt: skip


def train_config(config: StudyConfig, arm: Arm, seed: int) -> TrainConfig:
    """The run's settings: the encoder kind's defaults, the study's common settings, then the arm's."""
    fixed = {"seed": seed, "split_seed": 0, "curves": True, "train_eval_limit": 200}
    return with_settings(defaults_for(config.encoder), **{**fixed, **config.common, **arm.settings})


def run_one(config: StudyConfig, arm: Arm, seed: int, out: Path) -> None:
    """Train one arm with one seed into `out` (the worker process's whole job)."""
    with tempfile.TemporaryDirectory(prefix="nrskg-study-data-") as work:
        path, fmt = data(config, config.dataset, Path(work))
        extra = [Corpus(*data(config, name, Path(work))) for name in arm.extra]
        encoder = arm.encoder or config.encoder
        settings = train_config(config, arm, seed)
        if arm.first:
            encoder = first_encoder(config, arm, settings, Corpus(path, fmt), encoder, Path(work))
            settings = with_settings(settings, relation_aliases={})
        train(path, fmt, encoder, out, settings, progress=False, extra=extra)


def first_encoder(
    config: StudyConfig, arm: Arm, settings: TrainConfig, target: Corpus, encoder: str, work: Path
) -> str:
    """Train `arm.first_steps` steps on the data set `arm.first`, less its documents that share text with the
    target's validation documents (`load_extra`, as `--extra` leaves them out), and write that model's encoder
    as a folder to start from: intermediate training on a larger corpus annotated by other rules."""
    path, fmt = data(config, arm.first, work)
    if not path.is_dir():
        raise SystemExit(f"first={arm.first}: only a data set of one file per document can be trained first")
    _, held_out = split_as_trained(target.path, target.fmt, settings)
    first_corpus = Corpus(path, fmt)
    kept_docs = load_extra([first_corpus], {}, held_out, WindowConfig.of(settings.model))[first_corpus]
    kept = {d.doc_id.removeprefix(f"{first_corpus}#") for d in kept_docs}
    apart = work / "first-apart"
    apart.mkdir()
    for file in path.iterdir():
        if file.stem in kept:
            (apart / file.name).symlink_to(file.resolve())
    steps = {"max_steps": arm.first_steps, "eval_every": arm.first_steps, "max_minutes": 0}
    first = work / "first-model"
    train(apart, fmt, encoder, first, with_settings(settings, **steps), progress=False)
    model, tokenizer = NRSOneRelModel.from_pretrained(first)
    model.encoder.save_pretrained(work / "first-encoder")
    tokenizer.save_pretrained(work / "first-encoder")
    return str(work / "first-encoder")


def summarise(arm: Arm, seed: int, out: Path, wall_s: float, finished: bool) -> dict:
    """One run: its curve, the best validation point and how well it fit there and at the end."""
    log_file = out / METRICS_LOG
    curve = (
        [json.loads(line) for line in log_file.read_text().splitlines() if line] if log_file.exists() else []
    )
    record: dict = {"arm": arm.name, "settings": arm.settings, "extra": arm.extra, "seed": seed,
                    "finished": finished, "wall_s": round(wall_s, 1), "curve": curve}  # fmt: skip
    if arm.encoder:
        record["encoder"] = arm.encoder
    if curve:
        best = max(curve, key=lambda r: r["val_f1"])
        record |= {
            "val_f1": best["val_f1"], "val_precision": best["val_precision"],
            "val_recall": best["val_recall"], "best_step": best["step"],
            "train_f1_at_best": best.get("train_f1"), "train_f1_last": curve[-1].get("train_f1"),
            "steps": curve[-1]["step"],
        }  # fmt: skip
    if (out / METRICS_FILE).exists():
        metrics = json.loads((out / METRICS_FILE).read_text())
        record["operating_point"] = metrics["min_confidence"]
        record["train_windows_per_epoch"] = metrics.get("train_windows_per_epoch")
    return record


def table(runs: list[dict]) -> list[dict]:
    """Per arm: validation F1 mean, std (0 with one seed), min and max over seeds, and the fit."""
    rows = []
    for name in dict.fromkeys(r["arm"] for r in runs):
        mine = [r for r in runs if r["arm"] == name and "val_f1" in r]
        if not mine:
            continue
        f1 = [r["val_f1"] for r in mine]
        fits = [r["train_f1_at_best"] for r in mine if r.get("train_f1_at_best") is not None]
        rows.append({
            "arm": name, "n": len(mine), "seeds": [r["seed"] for r in mine],
            "f1_mean": statistics.fmean(f1), "f1_std": statistics.stdev(f1) if len(f1) > 1 else 0.0,
            "f1_min": min(f1), "f1_max": max(f1),
            "precision_mean": statistics.fmean(r["val_precision"] for r in mine),
            "recall_mean": statistics.fmean(r["val_recall"] for r in mine),
            "train_f1_mean": statistics.fmean(fits) if fits else None,
            "steps_mean": statistics.fmean(r["steps"] for r in mine),
            "wall_s_mean": statistics.fmean(r["wall_s"] for r in mine),
        })  # fmt: skip
    return rows


def markdown_table(rows: list[dict], arms: dict[str, Arm]) -> str:
    lines = [
        "| arm | settings | seeds | val F1 mean ± std | min-max | P | R | train F1 | steps | s/run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        fit = "-" if row["train_f1_mean"] is None else f"{row['train_f1_mean']:.3f}"
        lines.append(
            f"| {row['arm']} | {_shown(arms.get(row['arm']))} | {row['n']} "
            f"| {row['f1_mean']:.3f} ± {row['f1_std']:.3f} | {row['f1_min']:.3f}-{row['f1_max']:.3f} "
            f"| {row['precision_mean']:.3f} | {row['recall_mean']:.3f} | {fit} | {row['steps_mean']:.0f} "
            f"| {row['wall_s_mean']:.0f} |"
        )
    return "\n".join(lines)


def _shown(arm: Arm | None) -> str:
    """An arm's settings as the table shows them: K for every relation type, an encoder by its folder name."""
    if arm is None:
        return ""
    shown = [f"{k}={v}" for k, v in arm.settings.items()]
    shown += [f"extra={'+'.join(arm.extra)}"] if arm.extra else []
    shown += [f"encoder={Path(arm.encoder).name}"] if arm.encoder else []
    shown += [f"first={arm.first} ({arm.first_steps} steps)"] if arm.first else []
    return ", ".join(shown).replace(str(EVERY_RELATION), "K")


def run(
    config: StudyConfig,
    out_json: Path,
    argv: list[str],
    prog: str = "benchmarks.study",
    notes: dict | None = None,
) -> dict:
    """Every arm x seed, `parallel` worker processes at a time; `out_json` rewritten as runs finish.

    `prog` and `argv` are the command recorded; `notes` are what the study built on this one records too.
    """
    threads = config.threads or max(1, (os.cpu_count() or 1) // config.parallel)
    results: dict = {
        "command": " ".join([f"python -m {prog}", *argv]),
        "config": {**asdict(config), "data_root": str(config.data_root)},
        "machine": machine(threads_per_run=threads),
        **(notes or {}),
        "runs": [],
    }
    pending = [(arm, seed) for seed in config.seeds for arm in config.arms]
    running: list[tuple[Arm, int, Path, subprocess.Popen, float]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nrskg-study-") as workdir:
        while pending or running:
            while pending and len(running) < config.parallel:
                arm, seed = pending.pop(0)
                out = Path(workdir) / f"{arm.name}-s{seed}"
                job = {"config": results["config"], "arm": asdict(arm), "seed": seed, "out": str(out)}
                worker = [sys.executable, "-m", "benchmarks.study", "--worker", json.dumps(job)]
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
                log_file = (Path(workdir) / f"{arm.name}-s{seed}.log").open("w")
                process = subprocess.Popen(
                    worker, env=env, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT
                )
                running.append((arm, seed, out, process, time.perf_counter()))
            time.sleep(1.0)
            for item in list(running):
                arm, seed, out, process, began = item
                late = config.arm_timeout_s and time.perf_counter() - began > config.arm_timeout_s
                if process.poll() is None and not late:
                    continue
                if process.poll() is None:
                    process.kill()
                    process.wait()
                running.remove(item)
                record = summarise(arm, seed, out, time.perf_counter() - began, process.returncode == 0)
                if process.returncode:
                    record["log_tail"] = (Path(workdir) / f"{arm.name}-s{seed}.log").read_text()[-2000:]
                results["runs"].append(record)
                log.info("%s seed %d: val F1 %s (%s, %.0f s)", arm.name, seed, record.get("val_f1"),
                         "finished" if record["finished"] else "stopped", record["wall_s"])  # fmt: skip
                results["summary"] = table(results["runs"])
                results["wall_s"] = round(time.perf_counter() - started, 1)
                write_json(out_json, results)
    return results


def data(config: StudyConfig, name: str, workdir: Path) -> tuple[Path, str]:
    """A data set's path and format; with `max_docs`, its first documents copied into `workdir`."""
    relative, fmt = DATASETS[name]
    path = config.data_root / relative
    if not config.max_docs:
        return path, fmt
    out = workdir / name
    out.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        suffix = ".txt" if fmt == "ruijin" else ".json"
        for file in sorted(path.glob(f"*{suffix}"))[: config.max_docs]:
            for sibling in path.glob(file.stem + ".*"):  # Ruijin's .txt and .ann together
                shutil.copy(sibling, out / sibling.name)
        return out, fmt
    return first_lines(path, config.max_docs, out / path.name), fmt


def options(prog: str, description: str, quick: str) -> argparse.ArgumentParser:
    """The options every study shares (data, encoder, settings, seeds, processes, outputs); `quick` says what
    `--quick` runs. Each study adds the options that make its arms."""
    p = argparse.ArgumentParser(prog=f"python -m {prog}", description=description)
    p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--dataset", choices=list(DATASETS), help="the data set trained and validated on")
    p.add_argument("--data-root", type=Path, help="folder holding the data sets (default ../shared/data)")
    p.add_argument("--encoder", help="'tiny' or a HuggingFace encoder directory")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="settings of every arm (repeatable)")  # fmt: skip
    p.add_argument("--seeds", help="comma-separated training seeds")
    p.add_argument("--max-docs", type=int, help="only the first N documents (files or lines)")
    p.add_argument("--parallel", type=int, help="runs at once (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads per run (default: cores / parallel)")
    p.add_argument("--arm-timeout", type=float, help="seconds; a run still going is stopped")
    p.add_argument("--out", type=Path, help="JSON to write (default benchmarks/results/<name>[_quick].json)")
    p.add_argument("--plot", type=Path, help="PNG to draw (default docs/<name>[_quick].png)")
    return p


def configure(args: argparse.Namespace, config: StudyConfig) -> StudyConfig:
    """`config` (a study's preset) with what the shared options change."""
    config.common = {**config.common, **parse_settings(args.set)}  # the preset stays as it is
    for option, attribute in (
        ("dataset", "dataset"), ("data_root", "data_root"), ("encoder", "encoder"), ("max_docs", "max_docs"),
        ("parallel", "parallel"), ("threads", "threads"), ("arm_timeout", "arm_timeout_s"),
    ):  # fmt: skip
        if getattr(args, option) is not None:
            setattr(config, attribute, getattr(args, option))
    if args.seeds:
        config.seeds = [int(s) for s in args.seeds.split(",")]
    return config


def outputs(args: argparse.Namespace, json_name: str, plot_name: str) -> tuple[Path, Path]:
    """The JSON and the PNG to write: as given, else benchmarks/results/ and docs/ (`_quick` for --quick)."""
    suffix = "_quick" if args.quick else ""
    return (
        args.out or RESULTS_DIR / f"{json_name}{suffix}.json",
        args.plot or DOCS_DIR / f"{plot_name}{suffix}.png",
    )


def report(
    results: dict, arms: list[Arm], out_json: Path, plot: Path, kind: str = "study", *lines: str
) -> None:
    """Print the table and the study's own `lines`, then draw the plot (`kind`: "study" curves or "ns", F1
    against NS) where matplotlib is installed: it is a dev dependency that a bare GPU machine may lack, and
    `python -m benchmarks.plots` draws the JSON later."""
    print("\n".join([markdown_table(results.get("summary", []), {a.name: a for a in arms}), *lines]))
    try:
        from benchmarks import plots
    except ImportError as e:
        log.warning("no plot (%s): run `python -m benchmarks.plots --%s %s --out %s` where it is installed",
                    e, kind, out_json, plot)  # fmt: skip
        return
    drawn = plots.study_curves(results, plot) if kind == "study" else plots.ns_curve([results], plot)
    print(f"results: {out_json}\nplot: {drawn}")


def parse_args(argv: list[str]) -> tuple[StudyConfig, Path, Path]:
    p = options(
        "benchmarks.study", __doc__.splitlines()[0], "tiny encoder, 4 DiaKG documents, 6 steps, 2 arms"
    )
    p.add_argument("--arms", nargs="+", help="NAME or NAME:key=value,... (see the module doc)")
    args = p.parse_args(argv)
    config = configure(args, StudyConfig(**QUICK) if args.quick else StudyConfig())
    if args.arms:
        config.arms = [Arm.parse(spec) for spec in args.arms]
        unknown = {e for a in config.arms for e in [*a.extra, *filter(None, [a.first])]} - set(DATASETS)
        if unknown:
            p.error(f"unknown extra data sets {sorted(unknown)}; choose from {', '.join(DATASETS)}")
    return config, *outputs(args, "study", "study")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    log_progress()
    if argv[:1] == ["--worker"]:  # one run, in a process of its own
        job = json.loads(argv[1])
        config = StudyConfig(**{**job["config"], "data_root": Path(job["config"]["data_root"]),
                                "arms": [], "common": job["config"]["common"]})  # fmt: skip
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        run_one(config, Arm(**job["arm"]), job["seed"], Path(job["out"]))
        return
    logging.getLogger("extractor").setLevel(logging.WARNING)
    config, out, plot = parse_args(argv)
    report(run(config, out, argv), config.arms, out, plot)


if __name__ == "__main__":
    main()
