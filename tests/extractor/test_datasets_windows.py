"""Windowing, reach, the overlap-aware split, the relation schema and statistics."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from extractor.datasets import (
    Document,
    RelationType,
    linked_components,
    reachable,
    relation_schema,
    split_documents,
    stats,
    window_examples,
)
from extractor.datasets.windows import triple_span
from extractor.schema import Entity, Example, Triple
from extractor.splitting import SNAP_SHARE, WindowConfig, window_spans

TEXT_ALPHABET = "糖尿病药。，\n ab"


def entity(text: str, start: int, end: int, kind: str = "") -> Entity:
    return Entity(start, end, text[start:end], kind)


@st.composite
def windowed_texts(draw):
    """A text, window settings and gold triples over it."""
    text = draw(st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=300))
    max_chars = draw(st.integers(4, 64))
    stride = draw(st.integers(1, max_chars))
    spans = st.tuples(st.integers(0, len(text) - 1), st.integers(1, 4)).map(
        lambda p: (p[0], min(p[0] + p[1], len(text)))
    )
    pairs = draw(st.lists(st.tuples(spans, spans), max_size=12))
    triples = [Triple(entity(text, *h, "A"), "r", entity(text, *t, "B")) for h, t in pairs]
    return Example(text, triples, "d", "d:0"), WindowConfig(max_chars, stride)


def test_windows_keep_the_mentions_wholly_inside_them_rebased() -> None:
    text = "糖尿病药。" * 8  # 40 characters: windows of 16 every 12
    mentions = [entity(text, 0, 3, "Disease"), entity(text, 14, 18, "Drug"), entity(text, 30, 33, "Disease")]
    windows, _ = window_examples([Example(text, [], "d", "d:0", mentions)], 16, 12)
    assert len(windows) > 1
    for window in windows:
        start = int(window.sent_id.split("@")[1])
        inside = [m for m in mentions if start <= m.start and m.end <= start + len(window.text)]
        assert [(m.start + start, m.end + start, m.type) for m in window.mentions] == [
            (m.start, m.end, m.type) for m in inside
        ]
        assert all(window.text[m.start : m.end] == m.text for m in window.mentions)
    # A corpus that does not annotate every mention stays so in every window.
    unannotated, _ = window_examples([Example(text, [], "d", "d:0")], 16, 12)
    assert all(window.mentions is None for window in unannotated)


@settings(max_examples=150, deadline=None)
@given(windowed_texts())
def test_windows_cover_the_text_in_order_and_respect_the_length(case) -> None:
    example, config = case
    spans = window_spans(example.text, config.max_chars, config.stride)
    assert spans[0][0] == 0 and spans[-1][1] == len(example.text)
    assert all(0 < end - start <= config.max_chars for start, end in spans)
    for (s0, e0), (s1, e1) in zip(spans, spans[1:], strict=False):
        assert s0 < s1 <= e0 < e1  # strictly advancing, no unseen gap, none contained in its predecessor


@settings(max_examples=150, deadline=None)
@given(windowed_texts())
def test_windowing_keeps_each_triple_wherever_it_fits_and_reports_the_rest_once(case) -> None:
    example, config = case
    windows, report = window_examples([example], config.max_chars, config.stride)
    spans = window_spans(example.text, config.max_chars, config.stride)
    assert report.windows == len(windows) == len(spans)
    assert report.triples_total == len(example.triples)
    assert report.triples_kept + report.triples_lost == report.triples_total
    for window in windows:
        for t in window.triples:
            assert window.text[t.head.start : t.head.end] == t.head.text
            assert window.text[t.tail.start : t.tail.end] == t.tail.text
    if len(spans) > 1:
        for (start, end), window in zip(spans, windows, strict=True):
            assert window.sent_id == f"d:0@{start}"
            inside = [
                t
                for t in example.triples
                if min(t.head.start, t.tail.start) >= start and max(t.head.end, t.tail.end) <= end
            ]
            assert len(window.triples) == len(inside)
    # the guarantee that snapping leaves: anything this short fits some window
    guaranteed = config.max_chars - config.stride - 2 * (config.max_chars // SNAP_SHARE) + 1
    lost = [t for _, t in report.lost]
    assert all(triple_span(t) > guaranteed for t in lost)


def test_window_report_on_a_long_sentence_says_what_is_lost() -> None:
    text = "药" + "，" * 30 + "病" + "。" + "药病" + "。" * 12
    far = Triple(entity(text, 0, 1, "Drug"), "treats", entity(text, 31, 32, "Disease"))
    near = Triple(entity(text, 33, 34, "Drug"), "treats", entity(text, 34, 35, "Disease"))
    short = Example("药病", [Triple(entity("药病", 0, 1), "treats", entity("药病", 1, 2))], "d", "d:1")
    windows, report = window_examples([Example(text, [far, near], "d", "d:0"), short], 16, 8)
    assert (report.examples_in, report.examples_split) == (2, 1)
    assert report.lost == [("d:0", far)]
    assert report.triples_kept == 2 and windows[-1] is short
    # the near triple is repeated in every window holding it, yet counted once above
    holding = [(s, e) for s, e in window_spans(text, 16, 8) if s <= 33 and e >= 35]
    assert len(holding) > 1
    assert sum(len(w.triples) for w in windows[:-1]) == len(holding)


def test_reachable_counts_gold_triples_whose_arguments_fit_in_the_window() -> None:
    text = "a" * 100
    triples = [
        Triple(entity(text, 0, 2), "r", entity(text, 8, 10)),  # needs 10
        Triple(entity(text, 50, 52), "r", entity(text, 0, 1)),  # needs 52
    ]
    full = Example(text, triples, "d", "d")
    doc = Document("d", "x", examples=[], full=full)
    assert reachable([doc], 9) == (0, 2)
    assert reachable([doc], 10) == (1, 2)
    assert reachable([doc], 52) == (2, 2)


# --- split ---------------------------------------------------------------------------------------------


def doc_of(doc_id: str, text: str, group: str = "") -> Document:
    return Document(doc_id, f"{doc_id}.txt", [Example(text, [], doc_id, f"{doc_id}:0")], group=group)


def unique_text(seed: int, length: int = 120) -> str:
    """Deterministic text whose 12-grams are shared with no other seed."""
    return "".join(chr(0x4E00 + (seed * 7919 + i * 104729) % 20000) for i in range(length))


def test_split_keeps_shared_text_and_groups_on_one_side() -> None:
    shared = unique_text(1)
    docs = [
        doc_of("diakg-2", shared),
        doc_of(
            "ruijin-0", "前言\n" + " ".join(shared[:60]) + "附录" + unique_text(2, 200)
        ),  # whitespace ignored
        doc_of("ruijin-12_1", unique_text(3), group="12"),
        doc_of("ruijin-12_2", unique_text(4), group="12"),
        *[doc_of(f"solo-{i}", unique_text(10 + i)) for i in range(8)],
    ]
    components = linked_components(docs)
    assert [0, 1] in components and [2, 3] in components and len(components) == 10
    for seed in range(5):
        train, val = split_documents(docs, 0.25, seed)
        sides = {d.doc_id: d in val for d in docs}
        assert sides["diakg-2"] == sides["ruijin-0"] and sides["ruijin-12_1"] == sides["ruijin-12_2"]
        assert len(train) + len(val) == len(docs) and 2 <= len(val) <= 4
        assert [d.doc_id for d in train] == [d.doc_id for d in docs if d not in val]  # order kept
        assert split_documents(docs, 0.25, seed) == (train, val)  # deterministic
    assert len({tuple(d.doc_id for d in split_documents(docs, 0.25, s)[1]) for s in range(8)}) > 1


def test_split_below_threshold_does_not_link() -> None:
    base = unique_text(5, 600)
    other = base[:60] + unique_text(6, 540)  # 60 of 600 characters shared: about 8% of samples
    assert linked_components([doc_of("a", base), doc_of("b", other)]) == [[0], [1]]


def test_split_with_zero_fraction_keeps_everything_for_training() -> None:
    docs = [doc_of(str(i), unique_text(i)) for i in range(3)]
    assert split_documents(docs, 0.0, 0) == (docs, [])


# --- schema and stats ----------------------------------------------------------------------------------


def test_relation_schema_takes_the_most_frequent_argument_types() -> None:
    text = "二甲双胍治疗糖尿病，口渴"
    drug, disease, symptom = (
        entity(text, 0, 4, "Drug"),
        entity(text, 6, 9, "Disease"),
        entity(text, 10, 12, "Symptom"),
    )
    triples = [Triple(drug, "Drug_Disease", disease)] * 2 + [
        Triple(symptom, "Drug_Disease", disease),  # noise, outvoted
        Triple(symptom, "Symptom_Disease", disease),
    ]
    doc = Document("d", "x", [Example(text, triples, "d", "d:0")])
    assert relation_schema([doc]) == [
        RelationType("Drug_Disease", "Drug", "Disease", 3),
        RelationType("Symptom_Disease", "Symptom", "Disease", 1),
    ]


def test_stats_counts_documents_sentences_entities_and_lengths() -> None:
    text = "药治病"
    d, s = entity(text, 0, 1, "Drug"), entity(text, 2, 3, "Disease")
    long = Example("x" * 40, [], "a", "a:1")
    doc_a = Document("a", "a", [Example(text, [Triple(d, "r", s)], "a", "a:0"), long], entities=[d, s])
    doc_b = Document("b", "b", [Example("y" * 10, [], "b", "b:0")], entities=[entity("yy", 0, 2)])
    doc_b.notes["mentions_not_found"] += 2
    figures = stats([doc_a, doc_b])
    assert figures["documents"] == 2 and figures["sentences"] == 3
    assert figures["entities"] == 3 and figures["triples"] == 1 and figures["relation_types"] == 1
    assert (
        figures["sentence_chars_median"],
        figures["sentence_chars_p95"],
        figures["sentence_chars_max"],
    ) == (
        10,
        40,
        40,
    )
    assert abs(figures["single_char_entity_share"] - 2 / 3) < 1e-9
    assert figures["notes"] == dict(Counter(mentions_not_found=2))
