"""The project's own annotated diabetes sample and sample corpus: offsets, types, coverage, originality.

The demo and the extractor's overfitting test train on this sample, so a wrong offset or a relation whose
arguments contradict its X_Y name would silently teach the model noise; these tests keep the files honest.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest

SAMPLE = Path(str(files("flows") / "sample"))
ANNOTATED = SAMPLE / "annotated.jsonl"
CORPUS = SAMPLE / "corpus"

# DiaKG relation names used by the sample: "X_Y" means the subject has type X and the object type Y.
RELATIONS = {
    "Drug_Disease",
    "ADE_Drug",
    "Amount_Drug",
    "Frequency_Drug",
    "Method_Drug",
    "Duration_Drug",
    "Test_items_Disease",
    "Test_Disease",
    "Symptom_Disease",
    "Anatomy_Disease",
    "Class_Disease",
    "Treatment_Disease",
    "Reason_Disease",
    "Pathogenesis_Disease",
    "Operation_Disease",
}
MIN_PER_RELATION = 5
MIN_SENTENCES = 80
SENTENCE_CHARS = (15, 120)
TRIPLE_KEYS = {
    "subject",
    "subject_type",
    "subject_start",
    "relation",
    "object",
    "object_type",
    "object_start",
}
WHITESPACE = re.compile(r"\s+")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with ANNOTATED.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _triples(records: list[dict]) -> list[dict]:
    return [t for r in records for t in r["triples"]]


def test_enough_sentences_grouped_into_documents(records: list[dict]) -> None:
    assert len(records) >= MIN_SENTENCES
    docs = Counter(r["doc_id"] for r in records)
    # A document-level validation split needs several documents of similar size.
    assert len(docs) >= 6
    assert min(docs.values()) >= 5
    assert all(SENTENCE_CHARS[0] <= len(r["text"]) <= SENTENCE_CHARS[1] for r in records)


def test_every_offset_points_at_its_mention(records: list[dict]) -> None:
    for line, r in enumerate(records, start=1):
        text = r["text"]
        for t in r["triples"]:
            assert set(t) == TRIPLE_KEYS, f"line {line}: keys {sorted(t)}"
            for role in ("subject", "object"):
                start = t[f"{role}_start"]
                where = f"line {line}: {role} {t[role]!r} at {start}"
                assert text[start : start + len(t[role])] == t[role], where


def test_relation_names_match_argument_types(records: list[dict]) -> None:
    for t in _triples(records):
        assert t["relation"] in RELATIONS
        assert t["relation"] == f"{t['subject_type']}_{t['object_type']}"


def test_no_duplicate_triples_within_a_sentence(records: list[dict]) -> None:
    for line, r in enumerate(records, start=1):
        keys = [tuple(sorted(t.items())) for t in r["triples"]]
        assert len(keys) == len(set(keys)), f"line {line}"


def test_every_relation_type_is_well_represented(records: list[dict]) -> None:
    counts = Counter(t["relation"] for t in _triples(records))
    assert set(counts) == RELATIONS
    assert min(counts.values()) >= MIN_PER_RELATION, counts


def test_sample_covers_the_hard_tagging_cases(records: list[dict]) -> None:
    triples = _triples(records)
    assert any(len(t["subject"]) == 1 for t in triples), "single-character entity"
    assert any(
        t["object_start"] <= t["subject_start"]
        and t["subject_start"] + len(t["subject"]) <= t["object_start"] + len(t["object"])
        for t in triples
    ), "subject nested inside its object"
    heads, tails = Counter(), Counter()
    for i, r in enumerate(records):
        for t in r["triples"]:
            heads[(i, t["subject"], t["subject_start"])] += 1
            tails[(i, t["object"], t["object_start"])] += 1
    assert max(heads.values()) >= 2, "one head with several tails"
    assert max(tails.values()) >= 3, "one tail with several heads"
    empty = sum(not r["triples"] for r in records)
    assert 2 <= empty <= len(records) // 10, "a few sentences without triples"


def _corpus_texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.iterdir()):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
        if path.suffix == ".jsonl":
            texts.extend(json.loads(line)["text"] for line in text.splitlines() if line.strip())
        else:
            texts.append(text)
    return texts


def test_corpus_has_the_formats_the_ingest_demo_exercises() -> None:
    paths = sorted(CORPUS.iterdir())
    suffixes = Counter(p.suffix for p in paths)
    assert 6 <= len(paths) <= 10
    assert suffixes[".md"] >= 1 and suffixes[".jsonl"] >= 1 and suffixes[".txt"] >= 4
    not_utf8 = []
    for p in paths:
        try:
            p.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            not_utf8.append(p)
    assert len(not_utf8) == 1, "exactly one file is GB18030"
    assert "糖尿病" in not_utf8[0].read_bytes().decode("gb18030")
    texts = "".join(_corpus_texts())
    assert re.search("[０-９]", texts), "full-width digits for normalisation"
    assert re.search("[^。！？；\n]\n[^\n]", texts), "OCR line breaks inside sentences"


def test_corpus_reuses_sample_entities(records: list[dict]) -> None:
    # The demo model is trained on the annotated sample; it can only extract from the corpus what it has seen.
    text = WHITESPACE.sub("", "".join(_corpus_texts()))
    entities = {t[role] for t in _triples(records) for role in ("subject", "object") if len(t[role]) > 1}
    assert sum(e in text for e in entities) >= 20


def _shared_texts(shared_data: Path) -> str:
    parts = []
    for path in sorted((shared_data / "diakg" / "train").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        parts.extend(s["sentence"] for p in doc["paragraphs"] for s in p["sentences"])
    ruijin = sorted((shared_data / "ruijin_round2" / "train").glob("*.txt"))
    parts.extend(p.read_text(encoding="utf-8") for p in ruijin)
    # Ruijin keeps OCR line breaks inside sentences, so compare without whitespace on both sides.
    return WHITESPACE.sub("", "\n".join(parts))


@pytest.mark.shared_data
def test_sample_was_written_for_this_project(records: list[dict], shared_data: Path) -> None:
    shared = _shared_texts(shared_data)
    sentences = [r["text"] for r in records]
    sentences += [s for t in _corpus_texts() for s in re.split("(?<=[。！？])", t)]
    copied = [s for s in (WHITESPACE.sub("", s) for s in sentences) if len(s) >= 10 and s in shared]
    assert not copied, copied
