"""Plots of the benchmark results: F1 against NS per data set (like the paper's Fig. 3/4), a study's
training curves, and a checkpoint's validation precision and recall over the minimum confidence.

    python -m benchmarks.plots --ns benchmarks/results/quality_diakg.json quality_duie.json --out docs/ns.png
    python -m benchmarks.plots --study benchmarks/results/study.json --out docs/study.png
    python -m benchmarks.plots --confidence MODEL_DIR/metrics.json --out docs/confidence.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

CLOSE_TICKS = 1.25  # ratio of neighbouring NS values below which their labels would overlap on the log axis


def _save(fig: plt.Figure, out: Path) -> Path:
    """Lay out, write `out` (its folder made if needed) and free the figure."""
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def tick_labels(ns: list[int]) -> list[str]:
    """NS values as tick labels, a close neighbour (e.g. 22 after 20 on the log axis) moved a line down."""
    return [f"\n{v}" if i and v / ns[i - 1] < CLOSE_TICKS else str(v) for i, v in enumerate(ns)]


def ns_curve(studies: list[dict], out: Path, title: str | None = None) -> Path:
    """One panel per NS study (`benchmarks.quality`): mean validation F1 per NS, min-max bars over seeds,
    OneRel (NS = K) as a line with its range shaded."""
    studies = [s for s in studies if s.get("summary")]
    if not studies:
        raise ValueError("no finished runs to plot")
    fig, axes = plt.subplots(1, len(studies), figsize=(4.8 * len(studies), 3.8), squeeze=False)
    for ax, study in zip(axes[0], studies, strict=True):
        k, ns_of = study["ns"]["K"], study["ns"]["ns_by_arm"]
        rows = sorted(study["summary"], key=lambda r: ns_of[r["arm"]])
        ns = [ns_of[r["arm"]] for r in rows]
        mean = [r["f1_mean"] for r in rows]
        low = [r["f1_mean"] - r["f1_min"] for r in rows]
        high = [r["f1_max"] - r["f1_mean"] for r in rows]
        ax.errorbar(ns, mean, yerr=[low, high], marker="o", capsize=4, label="NRS-OneRel (mean, min-max)")
        for x, r in zip(ns, rows, strict=True):
            ax.annotate(f"n={r['n']}", (x, r["f1_mean"]), textcoords="offset points", xytext=(4, -12),
                        fontsize=7)  # fmt: skip
        every = next((r for x, r in zip(ns, rows, strict=True) if x == k), None)
        if every is not None:
            ax.axhline(every["f1_mean"], color="grey", linestyle="--", label=f"OneRel, all K={k}")
            ax.axhspan(every["f1_min"], every["f1_max"], color="grey", alpha=0.15)
        ax.set_ylim(0, max(0.05, 1.15 * max(r["f1_max"] for r in rows)))  # F1 from 0: no zoomed-in gaps
        ax.set_xscale("log")
        ax.set_xticks(ns, tick_labels(ns))
        ax.minorticks_off()
        ax.set_xlabel("NS: relation types scored per training sentence")
        ax.set_ylabel("validation F1 (micro, exact triples)")
        ax.set_title(f"{study['config']['dataset']} (K={k})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    return _save(fig, out)


def study_curves(results: dict, out: Path, title: str | None = None) -> Path:
    """Two panels, a line per run (arm and seed): validation and training-sample F1 at every evaluation."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colours: dict[str, str] = {}
    for run in results["runs"]:
        steps = [r["step"] for r in run["curve"]]
        label = run["arm"] if run["arm"] not in colours else None
        (line,) = axes[0].plot(steps, [r["val_f1"] for r in run["curve"]], marker=".", label=label,
                               color=colours.get(run["arm"]))  # fmt: skip
        colours.setdefault(run["arm"], line.get_color())
        train = [(r["step"], r["train_f1"]) for r in run["curve"] if "train_f1" in r]
        if train:
            axes[1].plot(*zip(*train, strict=True), marker=".", color=colours[run["arm"]])
    for ax, what in zip(axes, ("validation", "training sample"), strict=True):
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(f"{what} F1 (micro, exact triples)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title or f"{results['config']['dataset']}: training recipes")
    return _save(fig, out)


def confidence_curve(metrics: dict, out: Path, title: str | None = None) -> Path:
    """Validation precision, recall and F1 against the minimum confidence (`metrics.json` of a checkpoint),
    with the checkpoint's default threshold marked."""
    curve = metrics["confidence_curve"]
    fig, ax = plt.subplots(figsize=(6, 4))
    thresholds = [r["min_confidence"] for r in curve]
    for what in ("precision", "recall", "f1"):
        ax.plot(thresholds, [r[what] for r in curve], label=what)
    chosen = metrics.get("min_confidence") or {}
    if chosen:
        ax.axvline(chosen["min_confidence"], color="grey", linestyle="--",
                   label=f"default {chosen['min_confidence']:.2f} (P {chosen['precision']:.2f})")  # fmt: skip
    ax.set_xlabel("minimum confidence")
    ax.set_ylabel("validation score (micro, exact triples)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"model {metrics.get('model_version', '')}", fontsize=9)
    return _save(fig, out)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.plots", description=__doc__.splitlines()[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--ns", type=Path, nargs="+", help="benchmarks.quality JSON files: F1 against NS")
    what.add_argument("--study", type=Path, help="a benchmarks.study JSON: its training curves")
    what.add_argument("--confidence", type=Path, help="metrics.json of a checkpoint")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--title")
    args = p.parse_args()
    if args.ns:
        print(ns_curve([_read(path) for path in args.ns], args.out, args.title))
    elif args.study:
        print(study_curves(_read(args.study), args.out, args.title))
    else:
        print(confidence_curve(_read(args.confidence), args.out, args.title))


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
