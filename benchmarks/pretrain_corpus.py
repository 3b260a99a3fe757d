"""The unlabelled corpus of the pretraining study: DiaKG + Ruijin train text, minus what validation sees.

DiaKG and Ruijin annotate the same guideline texts, so pretraining on Ruijin would leak DiaKG's validation
documents. We link all documents of both sets the way the held-out split was made (extractor.datasets.split)
and drop the Ruijin documents of every component holding a DiaKG validation document (the split fine-tuning
makes under the same settings: `val_fraction`, `split_seed`), and those validation documents. The rest is
segmented by jieba with a user dictionary of the TRAIN documents' entities and written as
`{"words": [...]}` JSONL, which `nrskg pretrain --texts` reads where jieba is not installed.

    python -m benchmarks.pretrain_corpus --out /tmp/pretrain_words.jsonl [--set val_fraction=0.2]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

from benchmarks.common import DATA_ROOT, log_progress
from benchmarks.study import DATASETS
from extractor.configuration import TrainConfig, parse_settings, with_settings
from extractor.datasets import linked_components, load
from extractor.pretrain import entity_words, segment, write_user_dict
from extractor.train import validation_split

log = logging.getLogger(__name__)


def build(diakg_path: Path, ruijin_path: Path, out: Path, settings: TrainConfig) -> dict[str, int]:
    """The corpus at `out`, without what DiaKG's validation split under `settings` sees; its counts."""
    diakg = load(diakg_path, DATASETS["diakg"][1])
    ruijin = load(ruijin_path, DATASETS["ruijin"][1])
    _, val = validation_split(diakg, settings)
    val_ids = {d.doc_id for d in val}
    docs = diakg + ruijin
    dropped: set[int] = set()
    for component in linked_components(docs):
        if any(docs[i].doc_id in val_ids and i < len(diakg) for i in component):
            dropped.update(component)
    train_diakg = [d for d in diakg if d.doc_id not in val_ids]  # fine-tuning sees their text anyway
    kept = train_diakg + [d for i, d in enumerate(ruijin, start=len(diakg)) if i not in dropped]
    with tempfile.TemporaryDirectory() as work:
        words = entity_words(train_diakg)  # entities of the training documents only
        user_dict = write_user_dict(words, Path(work) / "user_dict.txt")
        lines = [line.strip() for d in kept for line in d.text().splitlines() if line.strip()]
        segmented = segment(lines, user_dict)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for ws in segmented:
            f.write(json.dumps({"words": ws}, ensure_ascii=False) + "\n")
    stats = {
        "diakg_docs": len(diakg), "ruijin_docs": len(ruijin), "dropped_docs": len(dropped),
        "val_docs": len(val_ids), "kept_docs": len(kept), "lines": len(segmented),
        "chars": sum(len("".join(w)) for w in segmented),
        "user_dict_words": len(words),
    }  # fmt: skip
    log.info("pretraining corpus: %s -> %s", stats, out)
    return stats


def main() -> None:
    log_progress()
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.pretrain_corpus", description=__doc__.splitlines()[0]
    )
    p.add_argument("--data-root", type=Path, default=DATA_ROOT)
    p.add_argument("--out", type=Path, required=True, help="JSONL of {'words': [...]} to write")
    p.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE", help="fine-tuning settings (the split)"
    )
    args = p.parse_args()
    paths = [args.data_root / DATASETS[name][0] for name in ("diakg", "ruijin")]
    settings = with_settings(TrainConfig(), **parse_settings(args.set))
    print(json.dumps(build(*paths, args.out, settings)))


if __name__ == "__main__":
    main()
