"""Which read documents a run loads: new ones, edited ones, and ones an older model extracted; the rest skip.

A document is its source and its `content_hash` is its version (pipeline.reading), so comparing (content hash,
model version, minimum confidence) of the last load with this run's decides, per document, without any file
dates: a run at another minimum confidence re-extracts, so the graph always holds what its recorded threshold
keeps.
Inputs of one corpus with the same text are one document; what the graph holds decides which input carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import pandas as pd

from graph.documents import LoadedVersion
from nrskg.contracts import NEW, SKIPPED
from pipeline.reading import with_status

EDITED = "edited: replaces the text loaded before"
NEW_MODEL = "re-extracted: loaded before by model {previous}"
NEW_THRESHOLD = "re-extracted: loaded before at min confidence {previous:g}"


class Extracted(NamedTuple):
    """How a run extracts, as the graph records it on each document it loads: the model version and the
    minimum confidence applied; `model_default` is the model's own threshold, which a document loaded before
    thresholds were recorded is taken to have been filtered at."""

    model_version: str
    min_confidence: float
    model_default: float


def plan_loads(
    manifest: pd.DataFrame, loaded: Mapping[str, LoadedVersion], current: Extracted
) -> tuple[pd.DataFrame, list[str]]:
    """(manifest, doc_ids to load): of the inputs with one text, one is kept (`skip_copies`); `new` rows
    whose text, model version and minimum confidence are already the graph's become `skipped`; the others
    stay `new` with a reason when they replace something (an edited text, an older model's extraction, or
    one filtered at another minimum confidence). `loaded` maps doc_id to what the graph holds of it.
    """
    manifest = skip_copies(manifest, loaded)
    rows = manifest[manifest["status"] == NEW]
    skip, edited, todo = [], [], []
    replaced: dict[str, list[str]] = {}  # reason -> doc_ids
    for doc_id, content_hash in zip(rows["doc_id"], rows["content_hash"], strict=True):
        previous = loaded.get(doc_id)
        if previous is None:
            todo.append(doc_id)
        elif previous.content_hash != content_hash:
            edited.append(doc_id)
        elif previous.model_version != current.model_version:
            replaced.setdefault(NEW_MODEL.format(previous=previous.model_version), []).append(doc_id)
        elif _threshold(previous, current) != current.min_confidence:
            reason = NEW_THRESHOLD.format(previous=_threshold(previous, current))
            replaced.setdefault(reason, []).append(doc_id)
        else:
            skip.append(doc_id)
    already = (
        f"already loaded with model {current.model_version} at min confidence {current.min_confidence:g}"
    )
    manifest = with_status(manifest, skip, SKIPPED, already)
    manifest = with_status(manifest, edited, NEW, EDITED)  # still to load: only the reason changes
    for reason, ids in replaced.items():
        manifest = with_status(manifest, ids, NEW, reason)
    to_load = set(todo + edited + [i for ids in replaced.values() for i in ids])
    return manifest, [d for d in rows["doc_id"] if d in to_load]


def _threshold(previous: LoadedVersion, current: Extracted) -> float:
    """The minimum confidence a document was last loaded at; unrecorded, the model's own."""
    return current.model_default if previous.min_confidence is None else previous.min_confidence


def skip_copies(manifest: pd.DataFrame, loaded: Mapping[str, LoadedVersion]) -> pd.DataFrame:
    """A copy of `manifest` where, of the `new` rows that share a text, one stays `new` and the others become
    `skipped` ("same text as <the one kept>").

    The one kept is the input the graph already holds with that text, else the first in corpus order. So a
    copy added beside a loaded file is the one skipped, whatever its name: the loaded document keeps its
    identity (and is re-extracted with a new model) instead of a second Document doubling its evidence.
    """
    rows = manifest[manifest["status"] == NEW]
    held = {doc_id: version.content_hash for doc_id, version in loaded.items()}
    in_graph = [held.get(d) == h for d, h in zip(rows["doc_id"], rows["content_hash"], strict=True)]
    order = rows.assign(in_graph=in_graph).sort_values("in_graph", ascending=False, kind="stable")
    kept = order.drop_duplicates("content_hash")
    copies = rows.index.difference(kept.index)
    out = manifest.copy()
    out.loc[copies, "status"] = SKIPPED
    kept_source = dict(zip(kept["content_hash"], kept["source"], strict=True))
    out.loc[copies, "reason"] = [f"same text as {kept_source[h]}" for h in out.loc[copies, "content_hash"]]
    return out
