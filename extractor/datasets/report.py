"""Figures for the four public data sets in `shared/data`, behind `nrskg data stats`.

Oracle recall is measured at character level (one token per character): the share of gold triples that the
tagging scheme can represent at all. Windows and reach say what cutting long texts costs before tagging.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from extractor.alignment import char_offsets
from extractor.configuration import NRSOneRelConfig
from extractor.datasets.document import Document
from extractor.datasets.loader import load
from extractor.datasets.summary import relation_schema, stats
from extractor.datasets.windows import reachable, window_examples
from extractor.splitting import WindowConfig
from extractor.tagging import oracle_recall
from nrskg.errors import DataFormatError

log = logging.getLogger(__name__)

ENV_ROOT = "NRSKG_SHARED_DATA"
# data set -> (path under the shared data root, reader format), as laid out in shared/data/README.md
SHARED_SETS: dict[str, tuple[str, str]] = {
    "DiaKG": ("diakg/train", "diakg"),
    "Ruijin": ("ruijin_round2/train", "ruijin"),
    "CMeIE": ("cmeie/train.jsonl", "cmeie"),
    "DuIE": ("duie/train.jsonl", "duie"),
}
REACH_WINDOWS = (128, 256, 512)


def data_root(root: Path | None = None) -> Path:
    """`root`, else $NRSKG_SHARED_DATA, else the `shared/data` folder beside the checkout; it must exist."""
    chosen = root or (Path(os.environ[ENV_ROOT]) if os.environ.get(ENV_ROOT) else None)
    chosen = chosen or Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not chosen.is_dir():
        raise DataFormatError(
            f"{chosen}: shared data folder not found; pass --root DIR or set {ENV_ROOT} to the folder "
            f"that holds {', '.join(p for p, _ in SHARED_SETS.values())}"
        )
    return chosen


def dataset_figures(docs: Sequence[Document], window: WindowConfig) -> dict[str, object]:
    """Counts, character-level oracle recall, reach per window length, and what `window` loses."""
    relations = [r.name for r in relation_schema(docs)]
    examples = [e for d in docs for e in d.examples]
    windows: dict[str, object] = {"config": f"{window.max_chars}/{window.stride}"}
    if any(d.full is not None for d in docs):  # the reader already cut these documents into windows
        windows["windows"] = len(examples)
        windows["triples_total"] = sum(1 for d in docs for _ in d.gold_triples())
        windows["triples_lost"] = sum(d.notes["relations_outside_windows"] for d in docs)
    else:
        _, report = window_examples(examples, window.max_chars, window.stride)
        windows["split"] = report.examples_split
        windows["windows"] = report.windows
        windows["triples_total"] = report.triples_total
        windows["triples_lost"] = report.triples_lost
    return {
        **stats(docs),
        "oracle": oracle_recall(examples, relations, char_offsets).as_dict(),
        "reach": {w: reachable(docs, w) for w in REACH_WINDOWS},
        "windows": windows,
    }


def shared_data_report(root: Path, window: WindowConfig | None = None) -> dict[str, dict[str, object]]:
    """`dataset_figures` for each public data set under `root` (see SHARED_SETS)."""
    window = window or WindowConfig.of(NRSOneRelConfig())
    report = {}
    for name, (relative, fmt) in SHARED_SETS.items():
        log.info("reading %s from %s", name, root / relative)
        docs = load(root / relative, fmt, window)
        report[name] = {"path": str(root / relative), "format": fmt, **dataset_figures(docs, window)}
    return report


def format_report(report: dict[str, dict[str, object]]) -> str:
    """One two-column table per data set, for people."""
    return "\n\n".join(_table(name, figures) for name, figures in report.items())


def _table(name: str, f: dict) -> str:
    oracle, windows = f["oracle"], f["windows"]
    rows = [
        ("documents", f"{f['documents']:,}"),
        ("sentences" if "split" in windows else "windows", f"{f['sentences']:,}"),
        ("entities", f"{f['entities']:,}"),
        ("triples", f"{f['triples']:,}"),
        ("relation types", f"{f['relation_types']}"),
        (
            "chars per example median/p95/max",
            f"{f['sentence_chars_median']} / {f['sentence_chars_p95']} / {f['sentence_chars_max']}",
        ),
        ("single-char entities", f"{f['single_char_entity_share']:.1%}"),
        (
            "ORACLE RECALL (characters)",
            f"{oracle['recall']:.4f}  ({oracle['recovered']:,} of {oracle['gold']:,} per example)",
        ),
    ]
    rows += [(f"reach of {w}-char windows", _share(*r)) for w, r in f["reach"].items()]
    kept = windows["triples_total"] - windows["triples_lost"]
    label = f"kept by {windows['config']} windows"
    rows.append((label, _share(kept, windows["triples_total"]) + f"  ({windows['windows']:,} windows)"))
    rows += [(f"  {note.replace('_', ' ')}", f"{n:,}") for note, n in f["notes"].items()]
    if oracle["losses"]:
        rows += [(f"  oracle loss: {reason}", f"{n:,}") for reason, n in oracle["losses"].items()]
    width = max(len(label) for label, _ in rows)
    lines = [f"{name}  ({f['path']}, format {f['format']})"] + [f"  {k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.4f}  ({part:,} of {whole:,})" if whole else "-"
