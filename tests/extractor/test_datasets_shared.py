"""The readers on the real data sets in ../shared/data: counts must match its README."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from extractor.datasets import load, reachable, relation_schema, split_documents, stats
from extractor.splitting import WindowConfig

pytestmark = pytest.mark.shared_data
RUIJIN_WINDOW = WindowConfig(256, 128)  # fixed, so that the figures below do not move with a model's defaults


@pytest.fixture(scope="module")
def diakg(shared_data: Path):
    return load(shared_data / "diakg" / "train", "diakg")


@pytest.fixture(scope="module")
def ruijin(shared_data: Path):
    return load(shared_data / "ruijin_round2" / "train", "ruijin", RUIJIN_WINDOW)


def test_diakg_counts_match_the_readme(diakg) -> None:
    figures = stats(diakg)
    assert (figures["documents"], figures["sentences"], figures["entities"], figures["triples"]) == (
        33,
        2855,
        17131,
        6576,
    )
    assert (
        figures["sentence_chars_median"],
        figures["sentence_chars_p95"],
        figures["sentence_chars_max"],
    ) == (
        47,
        279,
        1051,
    )
    schema = {r.name: r for r in relation_schema(diakg)}
    assert len(schema) == 16
    assert (schema["Anatomy_Disease"].count, schema["ADE_Disease"].count) == (1530, 2)
    # README: in every relation X_Y the head has type X and the tail type Y
    assert all(f"{r.head_type}_{r.tail_type}" == r.name for r in schema.values())
    assert sorted(int(d.doc_id) for d in diakg)[:5] == [1, 2, 3, 4, 5]


def test_ruijin_counts_match_the_readme_before_drops(ruijin) -> None:
    figures = stats(ruijin)
    notes = Counter(figures["notes"])
    assert figures["documents"] == 303
    entity_drops = notes["entity_text_mismatch_dropped"] + notes["discontinuous_dropped"]
    assert figures["entities"] + entity_drops == 114080
    relation_drops = notes["relations_to_missing_entity"] + notes["relations_to_dropped_entity"]
    assert figures["triples"] + relation_drops == 57261
    assert figures["relation_types"] == 10
    assert figures["sentence_chars_max"] <= RUIJIN_WINDOW.max_chars
    assert {d.group for d in ruijin if d.doc_id.startswith("123_")} == {"123"}


def test_ruijin_reach_grows_with_the_window_and_bounds_what_windows_keep(ruijin) -> None:
    reach = {w: reachable(ruijin, w) for w in (128, 256, 512)}
    total = reach[128][1]
    assert reach[128][0] < reach[256][0] <= reach[512][0] <= total
    kept = total - sum(d.notes["relations_outside_windows"] for d in ruijin)
    assert kept <= reach[256][0]
    assert kept / total > 0.95


def test_cmeie_and_duie_locate_every_triple(shared_data: Path) -> None:
    cmeie = load(shared_data / "cmeie" / "train.jsonl", "cmeie")
    duie = load(shared_data / "duie" / "train.jsonl", "duie")
    for docs, lines, spo, types in ((cmeie, 2544, 7476, 44), (duie, 8398, 15226 + 606, 54)):
        figures = stats(docs)
        notes = Counter(figures["notes"])
        assert figures["documents"] == lines
        # README counts SPO records; DuIE adds one triple per extra key of a complex object (606 of them)
        assert figures["triples"] + notes["duplicate_triples"] + notes["triples_dropped_unlocated"] == spo
        assert figures["relation_types"] == types
        assert notes["mentions_not_found"] == 0


def test_joint_split_is_fast_and_keeps_shared_documents_together(diakg, ruijin) -> None:
    docs = diakg + ruijin
    started = time.perf_counter()
    train, val = split_documents(docs, 0.1, seed=0)
    assert time.perf_counter() - started < 30
    assert 0.08 * len(docs) <= len(val) <= 0.11 * len(docs)
    side = {(d.source, d.doc_id): d in val for d in docs}
    diakg_2 = next(d for d in diakg if d.doc_id == "2")
    ruijin_0 = next(d for d in ruijin if d.doc_id == "0")
    assert side[(diakg_2.source, "2")] == side[(ruijin_0.source, "0")]  # README: the same consensus text
    groups: dict[str, set[bool]] = {}
    for d in ruijin:
        groups.setdefault(d.group, set()).add(side[(d.source, d.doc_id)])
    assert all(len(sides) == 1 for sides in groups.values())
