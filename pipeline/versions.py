"""Which read documents a run loads: new ones, edited ones, and ones an older model extracted; the rest skip.

A document is its source and its `content_hash` is its version (pipeline.reading), so comparing the pair
(content hash, model version) of the last load with this run's decides, per document, without any file dates.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from nrskg.contracts import NEW, SKIPPED
from pipeline.reading import with_status

EDITED = "edited: replaces the text loaded before"
NEW_MODEL = "re-extracted: loaded before by model {previous}"


def plan_loads(
    manifest: pd.DataFrame, loaded: Mapping[str, tuple[str | None, str | None]], model_version: str
) -> tuple[pd.DataFrame, list[str]]:
    """(manifest, doc_ids to load): `new` rows whose (content hash, model version) is already the graph's
    become `skipped`; the others stay `new` with a reason when they replace something (an edited text or
    an older model's extraction). `loaded` maps doc_id to the graph's (content hash, model version).
    """
    rows = manifest[manifest["status"] == NEW]
    skip, edited, todo = [], [], []
    older: dict[str, list[str]] = {}
    for doc_id, content_hash in zip(rows["doc_id"], rows["content_hash"], strict=True):
        previous_hash, previous_model = loaded.get(doc_id, (None, None))
        if doc_id not in loaded:
            todo.append(doc_id)
        elif previous_hash != content_hash:
            edited.append(doc_id)
        elif previous_model != model_version:
            older.setdefault(str(previous_model), []).append(doc_id)
        else:
            skip.append(doc_id)
    manifest = with_status(manifest, skip, SKIPPED, f"already loaded with model {model_version}")
    manifest = with_status(manifest, edited, NEW, EDITED)  # still to load: only the reason changes
    for previous, ids in older.items():
        manifest = with_status(manifest, ids, NEW, NEW_MODEL.format(previous=previous))
    to_load = set(todo + edited + [i for ids in older.values() for i in ids])
    return manifest, [d for d in rows["doc_id"] if d in to_load]
