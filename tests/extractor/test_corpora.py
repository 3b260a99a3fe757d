"""Several corpora in one training run: parsing, renaming relation types, the merged schema, and leaving out
extra documents that share text with validation documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractor.datasets import Document
from extractor.datasets.corpora import (
    Corpus,
    aliases_for,
    apart_from,
    load_extra,
    merged_schema,
    rename_relations,
)
from extractor.schema import Entity, Example, Triple
from extractor.splitting import WindowConfig
from nrskg.errors import DataFormatError

TEXT = "二甲双胍可用于治疗2型糖尿病，也可能引起胃肠道反应。这是一段足够长的指南文字，用来检验文本重叠。"


def doc(doc_id: str, text: str, *relations: tuple[str, str, str, str, str]) -> Document:
    """A one-sentence document; each relation is (head, head type, relation, tail, tail type)."""
    triples = []
    for head, head_type, relation, tail, tail_type in relations:
        h, t = text.index(head), text.index(tail)
        triples.append(Triple(Entity(h, h + len(head), head, head_type), relation,
                              Entity(t, t + len(tail), tail, tail_type)))  # fmt: skip
    return Document(doc_id, f"{doc_id}.json", [Example(text, triples, doc_id, f"{doc_id}:0")])


DRUG = ("二甲双胍", "Drug", "Drug_Disease", "2型糖尿病", "Disease")
SIDE_EFFECT = ("胃肠道反应", "SideEff", "SideEff-Drug", "二甲双胍", "Drug")
ADE = ("胃肠道反应", "ADE", "ADE_Drug", "二甲双胍", "Drug")


def test_specs_parse_and_bad_ones_say_the_expected_form():
    assert Corpus.parse("ruijin:data/ruijin/train") == Corpus(Path("data/ruijin/train"), "ruijin")
    assert str(Corpus.parse("ruijin:a:b")) == "ruijin:a:b"  # a colon inside the path stays in the path
    with pytest.raises(DataFormatError, match="FORMAT:PATH"):
        Corpus.parse("data/ruijin")


def test_renaming_merges_synonyms_and_an_empty_name_drops_the_type():
    [renamed] = rename_relations(
        [doc("r1", TEXT, DRUG, SIDE_EFFECT)], {"SideEff-Drug": "ADE_Drug", "Drug_Disease": ""}
    )
    assert [t.relation for t in renamed.examples[0].triples] == ["ADE_Drug"]
    assert renamed.examples[0].triples[0].head.text == "胃肠道反应"


def test_scoped_aliases_rename_only_in_corpora_of_their_format():
    aliases = {"SideEff-Drug": "ADE_Drug", "ruijin:Test_Disease": "", "ruijin:SideEff-Drug": "ADE"}
    assert aliases_for(aliases, "diakg") == {"SideEff-Drug": "ADE_Drug"}
    assert aliases_for(aliases, "ruijin") == {"SideEff-Drug": "ADE", "Test_Disease": ""}  # scoped one wins
    assert aliases_for({}, "ruijin") == {}


def test_the_schema_takes_argument_types_from_the_target_and_adds_the_extra_corpus_types():
    target = [doc("1", TEXT, DRUG, ADE)]
    extra = rename_relations(
        [
            doc("r1", TEXT, SIDE_EFFECT),
            doc("r2", TEXT, ("胃肠道反应", "Symptom", "Symptom_Disease", "2型糖尿病", "Disease")),
        ],
        {"SideEff-Drug": "ADE_Drug"},
    )
    schema = {r.name: r for r in merged_schema(target, extra)}
    assert list(schema) == ["ADE_Drug", "Drug_Disease", "Symptom_Disease"]
    assert (schema["ADE_Drug"].head_type, schema["ADE_Drug"].count) == ("ADE", 2)  # DiaKG's type, both counts
    assert schema["Symptom_Disease"].head_type == "Symptom"


def test_extra_documents_sharing_text_with_validation_ones_are_left_out():
    other = "胰岛素是1型糖尿病患者的基础治疗，需要每日多次注射并监测血糖，避免低血糖发生的风险。" * 2
    validation = [doc("5", TEXT, DRUG)]
    extra = [doc("r1", TEXT + "附加的文字。", DRUG), doc("r2", other), doc("r3", other + "再版。")]
    assert [d.doc_id for d in apart_from(extra, validation)] == ["r2", "r3"]
    assert apart_from(extra, []) == extra


def test_load_extra_prefixes_ids_so_that_groups_of_different_corpora_never_merge(tmp_path):
    triple = {
        "subject": "胃肠道反应",
        "subject_type": "SideEff",
        "subject_start": TEXT.index("胃肠道反应"),
        "relation": "SideEff-Drug",
        "object": "二甲双胍",
        "object_type": "Drug",
        "object_start": 0,
    }
    lines = [{"text": TEXT, "doc_id": "1", "triples": [triple]}]
    path = tmp_path / "extra.jsonl"
    path.write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8"
    )
    held_out = [
        doc("1", "完全不同的一句话，和上面没有任何重叠的文字，长度也足够长了吧。")
    ]  # same id, other text
    corpus = Corpus(path, "jsonl")
    by_corpus = load_extra([corpus], {"SideEff-Drug": "ADE_Drug"}, held_out, WindowConfig(200, 150))
    assert list(by_corpus) == [corpus]
    [loaded] = by_corpus[corpus]
    assert loaded.doc_id.startswith(f"jsonl:{path}#") and loaded.group.startswith(f"jsonl:{path}#")
    assert loaded.examples[0].triples[0].relation == "ADE_Drug"
