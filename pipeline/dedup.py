"""Collapse extracted triples into one row per entity and one row per relation (an ingest's dedup stage).

The same drug is written `二甲双胍`, `二甲双胍 ` or (full-width) `Ｍｅｔｆｏｒｍｉｎ`; the same
relation is read in many sentences and documents. Entities are keyed by type and a normalised
name; relations by (head key, relation, tail key), with the distinct pieces of evidence counted
and listed. Every list is sorted and every table ordered by its key, so the same triples in any
order give identical tables (and identical Parquet files).
"""

from __future__ import annotations

import logging

import pandas as pd

from nrskg.contracts import TRIPLE_COLUMNS, doc_id_of_sentence
from nrskg.errors import DataFormatError
from pipeline.keys import entity_key

log = logging.getLogger(__name__)

ENTITY_COLUMNS = ["key", "name", "type", "surface_forms", "mentions", "mention_forms", "n_mentions"]
RELATION_COLUMNS = [
    "head_key", "relation", "tail_key", "count", "confidence_max", "evidence", "model_version", "doc_ids",
]  # fmt: skip
EVIDENCE_FIELDS = ["sent_id", "head_start", "head_end", "tail_start", "tail_end"]
VERSION_SEPARATOR = ","
_OFFSETS = ["head_start", "head_end", "tail_start", "tail_end"]
_TEXT_COLUMNS = ["sent_id", "head", "head_type", "relation", "tail", "tail_type", "model_version", "doc_id"]


def sentence_order(sent_ids: pd.Series) -> pd.DataFrame:
    """Sort columns (`_doc`, `_index`) putting `d:2` before `d:10`, so lists read in document order."""
    parts = sent_ids.str.extract(r"^(?P<_doc>.*):(?P<_index>\d+)$")
    return pd.DataFrame(
        {
            "_doc": parts["_doc"].fillna(sent_ids).astype(str),
            "_index": pd.to_numeric(parts["_index"]).fillna(-1).astype("int64"),
        },
        index=sent_ids.index,
    )


def prepare_triples(triples: pd.DataFrame) -> pd.DataFrame:
    """Check and type the triples table; add `doc_id` (if absent), `head_key`, `tail_key`, and
    the sort columns `_doc`, `_index` (`sentence_order`).

    Rows whose head or tail name is empty after normalisation cannot be keyed; they are dropped
    with a warning that counts them.
    """
    missing = [c for c in TRIPLE_COLUMNS if c not in triples.columns]
    if missing:
        raise DataFormatError(f"triples table: missing columns {missing}; has {list(triples.columns)}")
    frame = triples.copy()
    if "doc_id" not in frame.columns:
        frame["doc_id"] = frame["sent_id"].map(doc_id_of_sentence)
    try:
        frame = frame.astype(
            dict.fromkeys(_OFFSETS, "int64") | {"confidence": "float64"} | dict.fromkeys(_TEXT_COLUMNS, str)
        )
    except (TypeError, ValueError) as e:
        raise DataFormatError(f"triples table: a column has the wrong type ({e})") from e
    for side in ("head", "tail"):
        keys = [entity_key(n, t) for n, t in zip(frame[side], frame[f"{side}_type"], strict=True)]
        frame[f"{side}_key"] = pd.Series(keys, index=frame.index, dtype=str)
    unkeyable = frame["head_key"].str.endswith(":") | frame["tail_key"].str.endswith(":")
    if unkeyable.any():
        log.warning("dropped %d triples whose head or tail name is empty", int(unkeyable.sum()))
        frame = frame[~unkeyable]
    return pd.concat([frame, sentence_order(frame["sent_id"])], axis=1).reset_index(drop=True)


def deduplicate(
    triples: pd.DataFrame, sentences: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(entities, relations) from a triples table (columns `TRIPLE_COLUMNS`, `doc_id` optional).

    With `sentences` (the `split_corpus` table), evidence is compared in document offsets, so
    a triple read twice in the overlap of two windows of one long sentence counts once.
    """
    frame = prepare_triples(triples)
    if sentences is not None:
        frame = _drop_window_repeats(frame, sentences)
    return entities_table(frame), relations_table(frame)


def _drop_window_repeats(frame: pd.DataFrame, sentences: pd.DataFrame) -> pd.DataFrame:
    """Keep one row per triple at one place of a document (the one in the earliest window)."""
    base = frame["sent_id"].map(sentences.set_index("sent_id")["start"])
    if base.isna().any():
        unknown = frame.loc[base.isna(), "sent_id"].iloc[0]
        raise DataFormatError(f"triples table: sentence {unknown!r} is not in the sentences table")
    place = frame[_OFFSETS].add(base.astype("int64"), axis=0)
    identity = pd.concat([frame[["doc_id", "head_key", "relation", "tail_key"]], place], axis=1)
    earliest_first = frame.sort_values(["_doc", "_index"], kind="stable").index
    repeated = identity.loc[earliest_first].duplicated()
    return frame.drop(index=repeated[repeated].index)


def entities_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per entity key from the heads and tails of prepared triples (`prepare_triples`).

    `mentions` lists the sentences the entity is read in, and `mention_forms` (in the same order) the forms
    read in each: the graph counts an entity's forms per sentence, so that a document taken back takes back
    the spellings only it used."""
    # Heads and tails alike as mentions: `head_key`, `head`, ... become `key`, `surface`, ...
    own = {"_key": "key", "": "surface", "_type": "type", "_start": "start", "_end": "end"}
    mentions = pd.concat(
        [
            frame[["sent_id", "_doc", "_index", *(side + suffix for suffix in own)]].set_axis(
                ["sent_id", "_doc", "_index", *own.values()], axis=1
            )
            for side in ("head", "tail")
        ],
        ignore_index=True,
    ).drop_duplicates(["key", "sent_id", "start", "end", "surface"])
    by_key = mentions.groupby("key", sort=True)
    # Most frequent surface form; ties go to the smallest string, so the choice never depends on order.
    surfaces = mentions.groupby(["key", "surface"]).size().rename("n").reset_index()
    surfaces = surfaces.sort_values(["key", "n", "surface"], ascending=[True, False, True], kind="stable")
    places = mentions.drop_duplicates(["key", "sent_id", "start", "end"])
    sentences = mentions.drop_duplicates(["key", "sent_id"]).sort_values(
        ["key", "_doc", "_index"], kind="stable"
    )
    spelt = mentions.groupby(["key", "sent_id"])["surface"].agg(lambda forms: sorted(set(forms)))
    sentences = sentences.join(spelt.rename("forms"), on=["key", "sent_id"])
    table = pd.DataFrame(
        {
            "name": surfaces.drop_duplicates("key").set_index("key")["surface"],
            "type": by_key["type"].first(),
            "surface_forms": surfaces.sort_values(["key", "surface"]).groupby("key")["surface"].agg(list),
            "mentions": sentences.groupby("key")["sent_id"].agg(list),
            "mention_forms": sentences.groupby("key")["forms"].agg(list),
            "n_mentions": places.groupby("key").size(),
        }
    )
    return table.rename_axis("key").reset_index()[ENTITY_COLUMNS].astype({"n_mentions": "int64"})


def relations_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (head_key, relation, tail_key) from prepared triples (`prepare_triples`)."""
    keys = ["head_key", "relation", "tail_key"]
    # One piece of evidence per place; a place reported twice keeps its higher confidence.
    evidence = (
        frame.groupby([*keys, "_doc", "_index", *EVIDENCE_FIELDS], sort=True)["confidence"]
        .max()
        .reset_index()
    )
    evidence["item"] = evidence[[*EVIDENCE_FIELDS, "confidence"]].to_dict("records")
    grouped = evidence.groupby(keys, sort=True)
    versions = frame[[*keys, "model_version"]].drop_duplicates().sort_values("model_version")
    doc_ids = frame[[*keys, "doc_id"]].drop_duplicates().sort_values("doc_id")
    table = pd.DataFrame(
        {
            "count": grouped.size(),
            "confidence_max": grouped["confidence"].max(),
            "evidence": grouped["item"].agg(list),
            "model_version": versions.groupby(keys)["model_version"].agg(VERSION_SEPARATOR.join),
            "doc_ids": doc_ids.groupby(keys)["doc_id"].agg(list),
        }
    )
    table = table.reset_index()[RELATION_COLUMNS]
    return table.astype({"count": "int64", "confidence_max": "float64"})
