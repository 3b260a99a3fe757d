"""Which read documents a run loads: new ones, edited ones, and ones an older model extracted; the rest skip.

A document is its source and its `content_hash` is its version (pipeline.reading), so comparing the pair
(content hash, model version) of the last load with this run's decides, per document, without any file dates.
Inputs of one corpus with the same text are one document; what the graph holds decides which input carries it.
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
    """(manifest, doc_ids to load): of the inputs with one text, one is kept (`skip_copies`); `new` rows
    whose (content hash, model version) is already the graph's become `skipped`; the others stay `new` with
    a reason when they replace something (an edited text or an older model's extraction). `loaded` maps
    doc_id to the graph's (content hash, model version).
    """
    manifest = skip_copies(manifest, loaded)
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


def skip_copies(manifest: pd.DataFrame, loaded: Mapping[str, tuple[str | None, ...]]) -> pd.DataFrame:
    """A copy of `manifest` where, of the `new` rows that share a text, one stays `new` and the others become
    `skipped` ("same text as <the one kept>").

    The one kept is the input the graph already holds with that text, else the first in corpus order. So a
    copy added beside a loaded file is the one skipped, whatever its name: the loaded document keeps its
    identity (and is re-extracted with a new model) instead of a second Document doubling its evidence.
    """
    rows = manifest[manifest["status"] == NEW]
    in_graph = [
        loaded.get(d, (None,))[0] == h for d, h in zip(rows["doc_id"], rows["content_hash"], strict=True)
    ]
    order = rows.assign(in_graph=in_graph).sort_values("in_graph", ascending=False, kind="stable")
    kept = order.drop_duplicates("content_hash")
    copies = rows.index.difference(kept.index)
    out = manifest.copy()
    out.loc[copies, "status"] = SKIPPED
    kept_source = dict(zip(kept["content_hash"], kept["source"], strict=True))
    out.loc[copies, "reason"] = [f"same text as {kept_source[h]}" for h in out.loc[copies, "content_hash"]]
    return out
