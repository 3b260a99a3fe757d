"""Readers on small hand-written fixtures: what they return, and how they name malformed input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from extractor.datasets import FORMATS, Document, load
from extractor.schema import Entity
from extractor.splitting import WindowConfig
from nrskg.errors import DataFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"


def assert_offsets_consistent(docs: list[Document]) -> None:
    """The schema's contract: every argument's text is the slice its offsets name."""
    for doc in docs:
        for example in doc.examples:
            for triple in example.triples:
                for entity in (triple.head, triple.tail):
                    assert example.text[entity.start : entity.end] == entity.text


def copy_fixture(tmp_path: Path, relative: str) -> Path:
    target = tmp_path / Path(relative).name
    shutil.copy(FIXTURES / relative, target)
    return target


# --- DiaKG ---------------------------------------------------------------------------------------------


def test_diakg_reads_sentences_with_ids_types_and_nested_entities() -> None:
    [doc] = load(FIXTURES / "diakg", "diakg")
    assert doc.doc_id == "7"
    assert [e.sent_id for e in doc.examples] == ["7:0:0", "7:1:0", "7:1:1"]
    first = doc.examples[0]
    assert {t.key() for t in first.triples} == {
        ("二甲双胍", "Drug_Disease", "2型糖尿病"),
        ("2型", "Class_Disease", "2型糖尿病"),
    }
    nested = next(t for t in first.triples if t.relation == "Class_Disease")
    assert nested.head == Entity(0, 2, "2型", "Class") and nested.tail == Entity(0, 5, "2型糖尿病", "Disease")
    assert len(doc.entities) == 6  # the entity in no relation ("者") is counted too
    # Every annotated mention of a sentence, in a relation or not, for the mention column.
    assert sorted(m for e in doc.examples for m in e.mentions) == sorted(doc.entities)
    assert all(e.text[m.start : m.end] == m.text for e in doc.examples for m in e.mentions)
    assert_offsets_consistent([doc])


def _write_diakg(tmp_path: Path, mutate) -> Path:
    raw = json.loads((FIXTURES / "diakg" / "7.json").read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "3.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return path


def _first_sentence(raw: dict) -> dict:
    return raw["paragraphs"][0]["sentences"][0]


@pytest.mark.parametrize(
    ("mutate", "where", "message"),
    [
        (
            lambda raw: _first_sentence(raw)["entities"][1].update(start_idx=40, end_idx=42),
            "paragraphs[0].sentences[0].entities[1]",
            "start_idx 40 > len(sentence) 15",
        ),
        (
            lambda raw: _first_sentence(raw)["entities"][0].update(end_idx=99),
            "paragraphs[0].sentences[0].entities[0]",
            "end_idx 99 > len(sentence) 15",
        ),
        (
            lambda raw: _first_sentence(raw)["entities"][2].update(entity="胰岛素"),
            "paragraphs[0].sentences[0].entities[2]",
            "entity '胰岛素' != sentence[10:14] '二甲双胍'",
        ),
        (
            lambda raw: _first_sentence(raw)["entities"][0].update(start_idx="0"),
            "paragraphs[0].sentences[0].entities[0].start_idx",
            "expected int, got str",
        ),
        (
            lambda raw: raw["paragraphs"][1]["sentences"][1]["relations"][0].update(tail_entity_id="T9"),
            "paragraphs[1].sentences[1].relations[0]",
            "tail_entity_id 'T9' is not an entity of this sentence",
        ),
        (
            lambda raw: raw["paragraphs"][1].pop("sentences"),
            "paragraphs[1]",
            "missing field 'sentences'",
        ),
        (
            lambda raw: _first_sentence(raw)["entities"].append(_first_sentence(raw)["entities"][0]),
            "paragraphs[0].sentences[0].entities[4]",
            "duplicate entity_id 'T0'",
        ),
    ],
)
def test_diakg_malformed_records_are_named_by_file_and_record_path(tmp_path, mutate, where, message) -> None:
    path = _write_diakg(tmp_path, mutate)
    with pytest.raises(DataFormatError) as error:
        load(path, "diakg")
    assert error.value.args[0] == f"{path}: {where}: {message}"


def test_diakg_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "1.json"
    path.write_text('{"doc_id": "1",\n "paragraphs": [\n}', encoding="utf-8")
    with pytest.raises(DataFormatError, match=re.escape(f"{path}: line 3: invalid JSON")):
        load(path, "diakg")


# --- Ruijin --------------------------------------------------------------------------------------------


def test_ruijin_joins_line_broken_entities_drops_bad_ones_and_counts_them() -> None:
    [doc] = load(FIXTURES / "ruijin", "ruijin")
    assert (doc.doc_id, doc.group) == ("12_3", "12")
    assert doc.full is not None
    joined = next(e for e in doc.entities if e.type == "Test" and e.start == 8)
    assert joined == Entity(8, 13, "控制\n血糖", "Test")  # covering span, newline kept: offsets stay true
    assert doc.notes == {
        "discontinuous_joined": 1,
        "discontinuous_dropped": 1,
        "entity_text_mismatch_dropped": 1,
        "relations_to_dropped_entity": 1,
        "relations_to_missing_entity": 1,
        "ignored_annotations": 1,
    }
    assert len(doc.entities) == 6
    assert {t.key() for _, t in doc.gold_triples()} == {
        ("二甲双胍", "Drug_Disease", "2型糖尿病"),
        ("控制\n血糖", "Test_Disease", "糖尿病"),
        ("HbA1c", "Test_Disease", "2型糖尿病"),
    }
    assert_offsets_consistent([doc])


def test_ruijin_windows_keep_a_relation_only_where_both_arguments_are_inside() -> None:
    [doc] = load(FIXTURES / "ruijin" / "12_3.ann", "ruijin", WindowConfig(max_chars=16, stride=8))
    assert len(doc.examples) > 1
    assert all(len(e.text) <= 16 for e in doc.examples)
    assert_offsets_consistent([doc])
    kept = {t.key() for e in doc.examples for t in e.triples}
    assert ("控制\n血糖", "Test_Disease", "糖尿病") in kept  # 11 characters from 糖尿病 to 血糖
    # 2型糖尿病 (0) .. 二甲双胍 (18) and .. HbA1c (38) need more than 16 characters
    assert ("二甲双胍", "Drug_Disease", "2型糖尿病") not in kept
    assert ("HbA1c", "Test_Disease", "2型糖尿病") not in kept
    assert doc.notes["relations_outside_windows"] == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("T9\tDisease 0 x\t2型糖尿", "cannot read type and offsets from 'Disease 0 x'"),
        ("T9\tDisease 0 500\t2型糖尿", "span 0 500 outside the text (length 44) or empty"),
        ("T9\tDisease 0 5", "expected 'T<id>\\t<type> <start> <end>[;<start> <end>...]\\t<text>'"),
        ("R1\tDrug_Disease T3 T1", "expected 'R<id>\\t<type> Arg1:T<id> Arg2:T<id>'"),
        ("X1\tsomething", "unknown brat annotation 'X1'"),
        ("T3\tDrug 14 18\t二甲双胍", "duplicate id T3"),
    ],
)
def test_ruijin_malformed_lines_are_named_by_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    copy_fixture(tmp_path, "ruijin/12_3.txt")
    ann = copy_fixture(tmp_path, "ruijin/12_3.ann")
    lines = ann.read_text(encoding="utf-8").splitlines()
    lines.insert(3, line)
    ann.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as error:
        load(tmp_path, "ruijin")
    assert error.value.args[0] == f"{ann}: line 4: {message}"


def test_ruijin_needs_both_files(tmp_path: Path) -> None:
    copy_fixture(tmp_path, "ruijin/12_3.txt")
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path / '12_3.ann'}: missing")):
        load(tmp_path, "ruijin")


# --- CMeIE / DuIE --------------------------------------------------------------------------------------


def test_duie_flattens_complex_objects_locates_mentions_and_counts_misses() -> None:
    docs = load(FIXTURES / "spo" / "duie.jsonl", "duie")
    assert len(docs) == 2 and all(len(d.examples) == 1 for d in docs)
    first = docs[0].examples[0]
    assert len(docs[0].doc_id) == 16 and first.sent_id == f"{docs[0].doc_id}:0"
    keys = {t.key() for t in first.triples}
    assert keys == {
        ("张智尧", "饰演", "楚留香"),
        ("张智尧", "饰演_inWork", "楚留香新传"),
        ("楚留香新传", "主演", "张智尧"),
    }
    in_work = next(t for t in first.triples if t.relation == "饰演_inWork")
    assert (in_work.head.type, in_work.tail.type) == ("娱乐人物", "影视作品")
    # "楚留香" occurs inside "楚留香新传" (1) and alone (13): the closest pair to 张智尧 (8) is the lone one
    plays = next(t for t in first.triples if t.relation == "饰演")
    assert plays.tail.start == 13
    assert docs[0].notes["duplicate_triples"] == 1
    assert docs[1].notes["mentions_not_found"] == 1 and docs[1].notes["triples_dropped_unlocated"] == 1
    assert [t.relation for t in docs[1].examples[0].triples] == ["作者"]
    assert_offsets_consistent(docs)


def test_cmeie_prefers_the_closest_occurrence_pair_and_keeps_unlabelled_lines() -> None:
    docs = load(FIXTURES / "spo" / "cmeie.jsonl", "cmeie")
    triples = {t.relation: t for t in docs[0].examples[0].triples}
    text = docs[0].examples[0].text
    assert triples["病因"].head.start == text.index(
        "糖尿病的"
    )  # the 糖尿病 next to 肥胖, not the topic prefix
    assert triples["临床表现"].head.start == text.index("糖尿病患者")
    assert triples["病因"].tail.type == "社会学"
    assert docs[1].examples[0].text == "" and docs[1].examples[0].triples == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "a", "spo_list": [', "line 2: invalid JSON at column 28: Expecting value"),
        ('{"spo_list": []}', "line 2: missing field 'text'"),
        (
            '{"text": "ab", "spo_list": [{"subject": "a", "predicate": "p", "object": {"x": "b"}}]}',
            "line 2: spo_list[0].object: missing field '@value'",
        ),
        (
            '{"text": "ab", "spo_list": [{"subject": "a", "predicate": "p", "object": 3}]}',
            "line 2: spo_list[0].object: expected dict or str, got int",
        ),
    ],
)
def test_spo_malformed_lines_are_named_by_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(
        (FIXTURES / "spo" / "cmeie.jsonl").read_text(encoding="utf-8").splitlines()[0] + "\n" + line
    )
    with pytest.raises(DataFormatError) as error:
        load(path, "cmeie")
    assert error.value.args[0] == f"{path}: {message}"


# --- plain JSONL ---------------------------------------------------------------------------------------


def test_jsonl_groups_lines_by_doc_id_and_uses_given_offsets() -> None:
    docs = load(FIXTURES / "jsonl" / "users.jsonl", "jsonl")
    assert [d.doc_id for d in docs][0] == "guide"
    guide = docs[0]
    assert [e.sent_id for e in guide.examples] == ["guide:0", "guide:1"]
    side_effect = next(t for t in guide.examples[0].triples if t.relation == "副作用")
    assert side_effect.head.start == 0  # the given offset, although the occurrence at 12 is closer to 腹泻
    treats = next(t for t in guide.examples[0].triples if t.relation == "治疗")
    # no offsets: of 二甲双胍 at 0 and 12, the one at 12 is closer to 2型糖尿病 (6..11): closest pair wins
    assert treats.head == Entity(12, 16, "二甲双胍", "Drug") and treats.tail == Entity(
        6, 11, "2型糖尿病", "Disease"
    )
    assert docs[1].examples[0].triples == [] and len(docs[1].doc_id) == 16
    assert_offsets_consistent(docs)


@pytest.mark.parametrize(
    ("triple", "message"),
    [
        (
            {"subject": "甲", "relation": "r", "object": "乙", "subject_start": 1},
            "subject '甲' != text[1:2] '乙'",
        ),
        ({"subject": "丙", "relation": "r", "object": "乙"}, "subject '丙' not found in the text"),
        ({"subject": "甲", "object": "乙"}, "missing field 'relation'"),
        ({"subject": "甲", "relation": "r", "object": ""}, "object is empty"),
    ],
)
def test_jsonl_bad_triples_are_named_by_line_and_index(tmp_path: Path, triple: dict, message: str) -> None:
    path = tmp_path / "mine.jsonl"
    good = {"text": "甲乙", "triples": [{"subject": "甲", "relation": "r", "object": "乙"}]}
    bad_line = {"text": "甲乙", "triples": [good["triples"][0], triple]}
    path.write_text(f"{json.dumps(good)}\n\n{json.dumps(bad_line, ensure_ascii=False)}\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as error:
        load(path, "jsonl")
    assert error.value.args[0] == f"{path}: line 3: triples[1]: {message}"


# --- dispatch ------------------------------------------------------------------------------------------


def test_load_rejects_unknown_formats_and_missing_paths(tmp_path: Path) -> None:
    assert set(FORMATS) == {"diakg", "ruijin", "cmeie", "duie", "jsonl"}
    with pytest.raises(DataFormatError, match="unknown data format 'brat'"):
        load(FIXTURES / "ruijin", "brat")
    with pytest.raises(DataFormatError, match="no such file or folder"):
        load(tmp_path / "absent", "diakg")
    with pytest.raises(DataFormatError, match=r"no \.json files in this folder"):
        load(tmp_path, "diakg")


def test_load_reads_every_file_of_a_folder_in_natural_order(tmp_path: Path) -> None:
    for name in ("10", "2"):
        raw = json.loads((FIXTURES / "diakg" / "7.json").read_text(encoding="utf-8"))
        raw["doc_id"] = name
        (tmp_path / f"{name}.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not data", encoding="utf-8")
    assert [d.doc_id for d in load(tmp_path, "diakg")] == ["2", "10"]


def test_undecodable_bytes_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"text": "\xff"}\n')
    with pytest.raises(DataFormatError, match=re.escape(f"{path}: byte 10: not utf-8-sig text")):
        load(path, "jsonl")


@pytest.mark.parametrize(
    ("data", "fmt"),
    [("jsonl/users.jsonl", "diakg"), ("jsonl/users.jsonl", "cmeie"), ("diakg", "jsonl"), ("diakg", "ruijin")],
)
def test_data_read_as_another_format_names_the_format_option(data: str, fmt: str) -> None:
    """`nrskg evaluate --data x.jsonl --format diakg` said only "line 2: invalid JSON": nothing pointed at
    --format, the likely mistake."""
    with pytest.raises(DataFormatError) as error:
        load(FIXTURES / data, fmt)
    remedy = f". If the data is not {fmt}, pass its format as --format: one of "
    assert remedy in str(error.value), error.value
