"""Every cookbook query on a small real graph, the read-only guards and `nrskg query` (real Neo4j)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import neo4j
import pytest
from typer.testing import CliRunner

from flows.cli import app
from graph.queries import COOKBOOK, COOKBOOK_BY_NAME
from graph.read import read_table
from graph.schema import GraphSchema, ensure_schema
from graph.settings import Neo4jSettings
from graph.types import DocumentNode, EntityNode, Evidence, GraphBatch, Mention, RelationEdge, SentenceNode
from graph.writer import replace_documents
from nrskg.errors import GraphError, ReadOnlyQueryError
from pipeline.keys import cookbook_parameters, entity_key
from tests.graph.test_schema import DIAKG_RELATIONS, ENTITY_TYPES, RUIJIN_RELATIONS

pytestmark = pytest.mark.neo4j

SCHEMA = GraphSchema.from_names(DIAKG_RELATIONS + RUIJIN_RELATIONS, ENTITY_TYPES)
TIMEOUT_S = 10.0
SENTENCES = {
    "d1:0": "二甲双胍是2型糖尿病的一线用药",
    "d1:1": "二甲双胍每日两次，每次500mg，可降低2型糖尿病患者血糖",
    "d1:2": "胰岛素用于2型糖尿病，可引起低血糖",
    "d1:3": "二甲双胍罕见乳酸酸中毒",
    "d2:0": "2型糖尿病常有多饮，需查糖化血红蛋白和OGTT",
    "d2:1": "2型糖尿病可饮食控制，肥胖者可行代谢手术",
    "d2:2": "ACEI可延缓糖尿病肾病进展",
}
# (head type, head, relation, tail type, tail, sentence ids)
TRIPLES = [
    ("Drug", "二甲双胍", "Drug_Disease", "Disease", "2型糖尿病", ["d1:0", "d1:1"]),
    ("Drug", "胰岛素", "Drug_Disease", "Disease", "2型糖尿病", ["d1:2"]),
    ("ADE", "乳酸酸中毒", "ADE_Drug", "Drug", "二甲双胍", ["d1:3"]),
    ("SideEff", "低血糖", "SideEff-Drug", "Drug", "胰岛素", ["d1:2"]),
    ("Frequency", "每日两次", "Frequency_Drug", "Drug", "二甲双胍", ["d1:1"]),
    ("Amount", "500mg", "Amount_Drug", "Drug", "二甲双胍", ["d1:1"]),
    ("Symptom", "多饮", "Symptom_Disease", "Disease", "2型糖尿病", ["d2:0"]),
    ("Test_items", "糖化血红蛋白", "Test_items_Disease", "Disease", "2型糖尿病", ["d2:0"]),
    ("Test", "OGTT", "Test_Disease", "Disease", "2型糖尿病", ["d2:0"]),
    ("Treatment", "饮食控制", "Treatment_Disease", "Disease", "2型糖尿病", ["d2:1"]),
    ("Operation", "代谢手术", "Operation_Disease", "Disease", "2型糖尿病", ["d2:1"]),
    ("Drug", "ACEI", "Drug_Disease", "Disease", "糖尿病肾病", ["d2:2"]),
]


def evidence(sent_id: str, head: str, tail: str) -> Evidence:
    text = SENTENCES[sent_id]
    hs, ts = text.index(head), text.index(tail)
    return Evidence(
        sent_id=sent_id, head_start=hs, head_end=hs + len(head), tail_start=ts, tail_end=ts + len(tail),
        confidence=0.8 if sent_id.endswith(":1") else 0.9,
    )  # fmt: skip


def source_starts() -> list[int]:
    """Where each sentence of SENTENCES starts in its source file: the file opens with two spaces and puts
    one line break after each sentence."""
    starts, at = [], {}
    for sent_id, text in SENTENCES.items():
        doc = sent_id.split(":")[0]
        starts.append(at.get(doc, 2))
        at[doc] = starts[-1] + len(text) + 1
    return starts


def small_graph() -> GraphBatch:
    names = {(ht, h) for ht, h, *_ in TRIPLES} | {(tt, t) for *_, tt, t, _ in TRIPLES}
    return GraphBatch(
        documents=[DocumentNode(doc_id=d, source=f"guides/{d}.txt") for d in ("d1", "d2")],
        sentences=[
            SentenceNode(sent_id=s, doc_id=s.split(":")[0], text=t, source_start=a, source_end=a + len(t))
            for (s, t), a in zip(SENTENCES.items(), source_starts(), strict=True)
        ],
        entities=[EntityNode(key=entity_key(n, t), name=n, type=t) for t, n in sorted(names)],
        mentions=[Mention(entity_key=entity_key(n, t), sent_id=s, surface_forms=[n])
                  for ht, h, _, tt, t_, sents in TRIPLES for s in sents for t, n in ((ht, h), (tt, t_))],
        relations=[
            RelationEdge(
                head_key=entity_key(h, ht), relation=rel, tail_key=entity_key(t, tt), count=len(sents),
                model_version="v1", evidence=[evidence(s, h, t) for s in sents],
            )
            for ht, h, rel, tt, t, sents in TRIPLES
        ],
    )  # fmt: skip


@pytest.fixture
def loaded(clean_graph: neo4j.Driver, neo4j_settings: Neo4jSettings) -> str:
    """The small graph on an empty database; returns the database name."""
    ensure_schema(clean_graph, neo4j_settings.database)
    replace_documents(
        clean_graph, ["d1", "d2"], small_graph(), "v1", SCHEMA, database=neo4j_settings.database
    )
    return neo4j_settings.database


def cookbook(driver: neo4j.Driver, database: str, query_name: str, /, **params: Any) -> list[dict[str, Any]]:
    query = COOKBOOK_BY_NAME[query_name]
    params = cookbook_parameters(query, params, 20)
    return read_table(driver, query.cypher, params, timeout=TIMEOUT_S, limit=100, database=database).rows


def column(rows: list[dict[str, Any]], key: str) -> list[Any]:
    return [r[key] for r in rows]


# What each kind of node and relationship is called in the graph models of the README and docs/queries.md,
# and the Cypher that lists the properties it really has.
DOCUMENTED = {
    "Document": (r"\(:Document \{([^}]*)\}", "MATCH (x:Document)"),
    "Sentence": (r"\(:Sentence \{([^}]*)\}", "MATCH (x:Sentence)"),
    "Entity": (r"\(:Entity:<\w+> \{([^}]*)\}", "MATCH (x:Entity)"),
    "relationship": (r"\[:<RELATION_TYPE> \{([^}]*)\}", "MATCH (:Entity)-[x]->(:Entity)"),
    "EVIDENCE": (r"\[:EVIDENCE \{([^}]*)\}", "MATCH ()-[x:EVIDENCE]->()"),
}


def test_docs_name_the_properties_the_graph_really_has(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    """The README and docs/queries.md describe one graph model, and every property a load writes is in it."""
    root = Path(__file__).resolve().parents[2]
    readme, model = ((root / name).read_text(encoding="utf-8") for name in ("README.md", "docs/queries.md"))
    for kind, (pattern, match) in DOCUMENTED.items():
        said = [{p.strip() for p in re.search(pattern, text).group(1).split(",")} for text in (readme, model)]
        assert said[0] == said[1], (kind, said)
        rows = read_table(
            neo4j_driver, f"{match} UNWIND keys(x) AS p RETURN DISTINCT p", timeout=TIMEOUT_S, limit=100,
            database=loaded,
        ).rows  # fmt: skip
        assert {row["p"] for row in rows} <= said[1], kind


BROWSER_PARAM = re.compile(r":param (\w+) => ('[^']*'|\d+|\[[^\]]*\])")


def browser_params(text: str) -> dict[str, Any]:
    """The `:param NAME => VALUE` lines of a piece of docs/queries.md, as Neo4j Browser would set them (its
    strings, numbers and lists here are written as Python writes them)."""
    return {name: ast.literal_eval(value) for name, value in BROWSER_PARAM.findall(text)}


def test_each_query_pasted_into_browser_with_the_params_its_docs_set_answers(
    neo4j_driver: neo4j.Driver, loaded: str
) -> None:
    """docs/queries.md says its queries can be pasted into Neo4j Browser: the `:param` lines it gives (for all
    queries, then for each) must set every parameter the query needs, to values the graph answers."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "queries.md").read_text(encoding="utf-8")
    general, _, sections = docs.partition("## The queries")
    for q in COOKBOOK:
        section = next(part for part in sections.split("\n### ") if q.question in part)
        params = browser_params(general) | browser_params(section)
        rows = read_table(neo4j_driver, q.cypher, params, timeout=TIMEOUT_S, limit=100, database=loaded).rows
        assert rows, (q.name, params)


def test_every_cookbook_query_is_covered_here() -> None:
    covered = {
        "drugs_for_disease", "adverse_effects_of_drug", "tests_for_disease", "symptoms_of_disease",
        "treatments_for_disease", "drug_administration", "evidence_for_relationship",
        "most_connected_entities", "entities_by_name", "relationships_of_entity",
        "documents_mentioning_entity", "relation_summary",
    }  # fmt: skip
    assert {q.name for q in COOKBOOK} == covered


def test_relation_cookbook_queries(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    def ask(name: str, entity: str, key: str) -> list[Any]:
        return column(cookbook(neo4j_driver, loaded, name, name=entity), key)

    drugs = cookbook(neo4j_driver, loaded, "drugs_for_disease", name="2型糖尿病")
    assert [(r["drug"], r["count"], r["relation"]) for r in drugs] == [
        ("二甲双胍", 2, "Drug_Disease"),
        ("胰岛素", 1, "Drug_Disease"),
    ]
    assert ask("adverse_effects_of_drug", "二甲双胍", "adverse_effect") == ["乳酸酸中毒"]
    assert ask("adverse_effects_of_drug", "胰岛素", "adverse_effect") == ["低血糖"]
    assert ask("tests_for_disease", "2型糖尿病", "test") == ["OGTT", "糖化血红蛋白"]
    assert ask("symptoms_of_disease", "2型糖尿病", "symptom") == ["多饮"]
    assert ask("treatments_for_disease", "2型糖尿病", "treatment") == ["代谢手术", "饮食控制"]
    assert ask("drug_administration", "二甲双胍", "detail") == ["500mg", "每日两次"]
    assert ask("drugs_for_disease", "1型糖尿病", "drug") == []
    assert ask("drugs_for_disease", "糖尿病肾病", "drug") == ["ACEI"]
    # The relation questions return the path too, so Neo4j Browser draws the answer as a graph.
    (path,) = column(cookbook(neo4j_driver, loaded, "adverse_effects_of_drug", name="胰岛素"), "path")
    assert path["path"] == "低血糖 -[SideEff-Drug]-> 胰岛素"
    assert [n["name"] for n in path["nodes"]] == ["低血糖", "胰岛素"] and len(path["relationships"]) == 1


def test_entity_look_ups_ignore_case_width_and_spaces(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    for spelled in ("acei", "ACEI", "ＡＣＥＩ", " A C E I "):
        about = cookbook(neo4j_driver, loaded, "relationships_of_entity", key=f"Drug:{spelled}")
        assert [(r["other"], r["path"]["path"]) for r in about] == [
            ("糖尿病肾病", "ACEI -[Drug_Disease]-> 糖尿病肾病")
        ]
        found = cookbook(neo4j_driver, loaded, "entities_by_name", text=spelled[:3])
        assert column(found, "key") == ["Drug:acei"], spelled
    assert column(cookbook(neo4j_driver, loaded, "drugs_for_disease", name=" 糖尿病 肾病"), "drug") == [
        "ACEI"
    ]
    assert cookbook(neo4j_driver, loaded, "entities_by_name", text="drug") == []  # the type is not the name


# A Hong Kong guideline, in traditional characters: its entities are keyed as it wrote them.
HK_SENTENCE = "二甲雙胍可用於糖尿病腎病"


def traditional_document() -> GraphBatch:
    h, t = "二甲雙胍", "糖尿病腎病"
    place = Evidence(
        sent_id="d3:0", head_start=0, head_end=len(h), tail_start=7, tail_end=7 + len(t), confidence=0.8
    )
    return GraphBatch(
        documents=[DocumentNode(doc_id="d3", source="guides/hk.txt")],
        sentences=[SentenceNode(sent_id="d3:0", doc_id="d3", text=HK_SENTENCE)],
        entities=[EntityNode(key=entity_key(h, "Drug"), name=h, type="Drug"),
                  EntityNode(key=entity_key(t, "Disease"), name=t, type="Disease")],
        mentions=[Mention(entity_key=entity_key(h, "Drug"), sent_id="d3:0", surface_forms=[h]),
                  Mention(entity_key=entity_key(t, "Disease"), sent_id="d3:0", surface_forms=[t])],
        relations=[RelationEdge(head_key=entity_key(h, "Drug"), relation="Drug_Disease",
                                tail_key=entity_key(t, "Disease"), count=1,
                                model_version="v1", evidence=[place])],
    )  # fmt: skip


def test_names_typed_in_traditional_characters_find_the_simplified_ones(
    neo4j_driver: neo4j.Driver, loaded: str
) -> None:
    """The graph keeps names in the script their text used (simplified here): a clinician typing traditional
    characters, in any question that names an entity, gets the same answer."""
    assert column(cookbook(neo4j_driver, loaded, "drugs_for_disease", name="糖尿病腎病"), "drug") == ["ACEI"]
    assert column(cookbook(neo4j_driver, loaded, "adverse_effects_of_drug", name="胰島素"), "key") == [
        "SideEff:低血糖"
    ]
    about = cookbook(neo4j_driver, loaded, "relationships_of_entity", key="Drug:二甲雙胍")
    assert len(about) == 4 and {r["other"] for r in about} >= {"2型糖尿病", "乳酸酸中毒"}
    assert column(cookbook(neo4j_driver, loaded, "entities_by_name", text="雙胍"), "key") == ["Drug:二甲双胍"]
    evidence_rows = cookbook(
        neo4j_driver, loaded, "evidence_for_relationship",
        head_key="Drug:二甲雙胍", relation="Drug_Disease", tail_key="Disease:2型糖尿病",
    )  # fmt: skip
    assert column(evidence_rows, "sent_id") == ["d1:0", "d1:1"]
    documents = cookbook(neo4j_driver, loaded, "documents_mentioning_entity", key="Drug:二甲雙胍")
    assert documents == [{"doc_id": "d1", "source": "guides/d1.txt", "sentences": 3}]


def test_a_graph_in_both_scripts_answers_a_name_in_either_with_both(
    neo4j_driver: neo4j.Driver, neo4j_settings: Neo4jSettings, loaded: str
) -> None:
    """Beside the simplified guidelines, a Hong Kong one keyed in traditional characters: simplified input
    finds its entities, and either script finds both documents' answers."""
    replace_documents(neo4j_driver, ["d3"], traditional_document(), "v1", SCHEMA, database=loaded)
    for name in ("糖尿病肾病", "糖尿病腎病"):
        drugs = cookbook(neo4j_driver, loaded, "drugs_for_disease", name=name)
        assert [(r["drug"], r["key"]) for r in drugs] == [
            ("ACEI", "Drug:acei"),
            ("二甲雙胍", "Drug:二甲雙胍"),
        ]
    found = cookbook(neo4j_driver, loaded, "entities_by_name", text="双胍")
    assert sorted(column(found, "key")) == ["Drug:二甲双胍", "Drug:二甲雙胍"]
    documents = cookbook(neo4j_driver, loaded, "documents_mentioning_entity", key="Drug:二甲双胍")
    assert [(r["doc_id"], r["sentences"]) for r in documents] == [("d1", 3), ("d3", 1)]
    (evidence_row,) = cookbook(
        neo4j_driver, loaded, "evidence_for_relationship",
        head_key="Drug:二甲双胍", relation="Drug_Disease", tail_key="Disease:糖尿病肾病",
    )  # fmt: skip
    assert (evidence_row["head"], evidence_row["tail"]) == ("二甲雙胍", "糖尿病腎病")
    done = CliRunner().invoke(
        app, ["query", "--cookbook", "drugs-for-disease", "-p", "name=糖尿病肾病"], env=_env(neo4j_settings)
    )
    assert done.exit_code == 0 and "二甲雙胍 -[Drug_Disease]-> 糖尿病腎病" in done.stdout, done.output
    assert done.stderr == ""


def test_evidence_for_one_relationship(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    rows = cookbook(
        neo4j_driver, loaded, "evidence_for_relationship",
        head_key="Drug:二甲双胍", relation="Drug_Disease", tail_key="Disease:2型糖尿病",
    )  # fmt: skip
    assert column(rows, "sent_id") == ["d1:0", "d1:1"]
    assert column(rows, "sentence") == [SENTENCES["d1:0"], SENTENCES["d1:1"]]
    assert column(rows, "confidence") == [0.9, 0.8]  # each sentence's own, read from its EVIDENCE link
    assert {(r["head"], r["tail"], r["doc_id"], r["source"], r["model_version"]) for r in rows} == {
        ("二甲双胍", "2型糖尿病", "d1", "guides/d1.txt", "v1")
    }
    start = SENTENCES["d1:1"].index("2型糖尿病")
    assert (rows[1]["tail_start"], rows[1]["tail_end"]) == (start, start + len("2型糖尿病"))
    second = 2 + len(SENTENCES["d1:0"]) + 1
    assert [(r["source_start"], r["source_end"]) for r in rows] == [
        (2, 2 + len(SENTENCES["d1:0"])),
        (second, second + len(SENTENCES["d1:1"])),
    ]


def test_evidence_takes_the_relation_as_a_relationship_type_or_in_any_case(
    neo4j_driver: neo4j.Driver, loaded: str
) -> None:
    """The graph prints the relationship type (DRUG_DISEASE) beside the name: either, in any case, finds the
    same evidence; only another relation finds none."""
    keys = {"head_key": "Drug:二甲双胍", "tail_key": "Disease:2型糖尿病"}
    for relation in ("DRUG_DISEASE", "drug_disease", "Drug_Disease"):
        rows = cookbook(neo4j_driver, loaded, "evidence_for_relationship", relation=relation, **keys)
        assert column(rows, "sent_id") == ["d1:0", "d1:1"], relation
    assert cookbook(neo4j_driver, loaded, "evidence_for_relationship", relation="ADE_Drug", **keys) == []


def test_entity_cookbook_queries(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    top = cookbook(neo4j_driver, loaded, "most_connected_entities", limit=2)
    assert [(r["key"], r["degree"]) for r in top] == [("Disease:2型糖尿病", 7), ("Drug:二甲双胍", 4)]
    found = cookbook(neo4j_driver, loaded, "entities_by_name", text="糖")
    assert column(found, "key") == [
        "SideEff:低血糖", "Disease:2型糖尿病", "Disease:糖尿病肾病", "Test_items:糖化血红蛋白"
    ]  # fmt: skip
    assert found[1]["mentions"] == 5 and found[1]["surface_forms"] == ["2型糖尿病"]
    about = cookbook(neo4j_driver, loaded, "relationships_of_entity", key="Drug:二甲双胍")
    assert sorted((r["direction"], r["relation"], r["other"]) for r in about) == [
        ("in", "ADE_Drug", "乳酸酸中毒"),
        ("in", "Amount_Drug", "500mg"),
        ("in", "Frequency_Drug", "每日两次"),
        ("out", "Drug_Disease", "2型糖尿病"),
    ]
    docs = cookbook(neo4j_driver, loaded, "documents_mentioning_entity", key="Drug:二甲双胍")
    assert docs == [{"doc_id": "d1", "source": "guides/d1.txt", "sentences": 3}]
    summary = {r["relation"]: (r["type"], r["relationships"], r["evidence"]) for r in cookbook(
        neo4j_driver, loaded, "relation_summary"
    )}  # fmt: skip
    assert summary["Drug_Disease"] == ("DRUG_DISEASE", 3, 4) and summary["SideEff-Drug"] == (
        "SIDE_EFF_DRUG",
        1,
        1,
    )
    assert len(summary) == len({t[2] for t in TRIPLES})


def test_reads_are_limited_and_writes_refused(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    result = read_table(
        neo4j_driver, "UNWIND range(1, 10) AS x RETURN x", timeout=TIMEOUT_S, limit=3, database=loaded
    )
    assert (result.columns, result.rows, result.truncated) == (["x"], [{"x": 1}, {"x": 2}, {"x": 3}], True)
    for write in (
        "CREATE (n:Drug {name: 'x'}) RETURN n",
        "MATCH (n) DETACH DELETE n",
        "CREATE INDEX x FOR (n:A) ON n.b",
    ):
        with pytest.raises(ReadOnlyQueryError, match="refused: this query would write"):
            read_table(neo4j_driver, write, timeout=TIMEOUT_S, limit=10, database=loaded)
    assert read_table(
        neo4j_driver, "MATCH (n) RETURN count(n) AS n", timeout=TIMEOUT_S, limit=1, database=loaded
    ).rows == [{"n": 2 + len(SENTENCES) + len(small_graph().entities)}]
    # The second guard we rely on: Neo4j itself refuses a write inside a READ transaction.
    with (
        neo4j_driver.session(database=loaded) as session,
        pytest.raises(neo4j.exceptions.ClientError) as caught,
    ):
        session.execute_read(lambda tx: tx.run("CREATE (:Probe)").consume())
    assert caught.value.code == "Neo.ClientError.Statement.AccessMode"


def test_slow_query_hits_the_timeout(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    slow = "UNWIND range(1, 100000000) AS x WITH x WHERE x % 7 = 0 RETURN count(x)"
    with pytest.raises(
        GraphError, match=r"did not finish within its time limit of 0\.2 s.*--timeout SECONDS"
    ):
        read_table(neo4j_driver, slow, timeout=0.2, limit=1, database=loaded)


@pytest.mark.parametrize(
    ("typed", "where"),
    [
        ("MATCH (n RETURN n", '(line 1, column 10 (offset: 9))\n"MATCH (n RETURN n"\n          ^'),
        ("MATCH (n)\nRETURN m", '(line 2, column 8 (offset: 17))\n"RETURN m"\n        ^'),
        # 糖 takes two columns of a terminal: the caret stands under R all the same
        ("  profile MATCH (糖 RETURN n", '(line 1, column 20 (offset: 19))\n"  profile MATCH (糖 RETURN n"\n'
                                        + " " * 21 + "^"),
        ("// only a comment", '(line 1, column 1 (offset: 0))\n"// only a comment"\n ^'),
    ],
)  # fmt: skip
def test_a_mistake_in_a_query_is_placed_in_the_query_as_typed(
    neo4j_driver: neo4j.Driver, loaded: str, typed: str, where: str
) -> None:
    """The plan is asked for with EXPLAIN put in front; the server's line, column and quoted line must point
    into what the person typed, not into a text they never wrote."""
    with pytest.raises(GraphError) as caught:
        read_table(neo4j_driver, typed, timeout=TIMEOUT_S, limit=1, database=loaded)
    assert where + ". Fix the query" in str(caught.value)
    assert '"EXPLAIN ' not in str(caught.value)  # no line quoted that the person did not write


def test_cli_refuses_an_empty_query_as_no_query() -> None:
    done = CliRunner().invoke(app, ["query", "  "])
    assert done.exit_code == 1
    assert (
        done.stderr.strip()
        == "error: give a Cypher query or --cookbook NAME (`nrskg query --list` names them)"
    )


def _env(settings: Neo4jSettings) -> dict[str, str]:
    env = {"NEO4J_URI": settings.uri, "NEO4J_USER": settings.user, "NEO4J_DATABASE": settings.database}
    return env | ({"NEO4J_PASSWORD": settings.password.get_secret_value()} if settings.password else {})


def test_cli_query_prints_rows_and_refuses_writes(
    neo4j_driver: neo4j.Driver, neo4j_settings: Neo4jSettings, loaded: str
) -> None:
    runner = CliRunner()
    env = _env(neo4j_settings)
    shown = runner.invoke(app, ["query", "MATCH (d:Drug) RETURN d.name AS drug ORDER BY drug"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "二甲双胍" in shown.output and "胰岛素" in shown.output and "(3 rows)" in shown.output
    asked = runner.invoke(
        app, ["query", "--cookbook", "drugs-for-disease", "-p", "name=2型糖尿病", "--limit", "1"], env=env
    )
    assert asked.exit_code == 0, asked.output
    assert "二甲双胍" in asked.output and "胰岛素" not in asked.output  # $limit filled by --limit
    assert "(1 row, cut at the row limit)" in asked.output  # not the whole answer, and it says so
    assert "0.900" in asked.output and "二甲双胍 -[Drug_Disease]-> 2型糖尿病" in asked.output
    listed = runner.invoke(app, ["query", "--list"], env=env)
    assert listed.exit_code == 0 and all(q.command_name in listed.output for q in COOKBOOK)
    assert "nrskg query --cookbook drugs-for-disease -p name=..." in listed.output
    missing = runner.invoke(app, ["query", "--cookbook", "drugs_for_disease"], env=env)
    assert missing.exit_code == 1 and "-p name=..." in missing.output
    unknown = runner.invoke(app, ["query", "--cookbook", "nope"], env=env)
    assert unknown.exit_code == 1 and "nrskg query --list" in unknown.output
    as_json = runner.invoke(
        app, ["query", "UNWIND [1, 2, 3] AS x RETURN x", "--limit", "2", "--json"], env=env
    )
    assert as_json.exit_code == 0 and '"truncated": true' in as_json.output
    refused = runner.invoke(app, ["query", "MATCH (n) DETACH DELETE n"], env=env)
    assert refused.exit_code == 1 and "refused" in refused.output
    nodes = read_table(
        neo4j_driver, "MATCH (n) RETURN count(n) AS n", timeout=TIMEOUT_S, limit=1, database=loaded
    ).rows
    assert nodes == [{"n": 2 + len(SENTENCES) + len(small_graph().entities)}]


def test_cli_json_relationships_name_the_nodes_they_link(neo4j_settings: Neo4jSettings, loaded: str) -> None:
    """A script reading `--json` must tell which entities a relationship links, whether it came alone, beside
    its nodes or in a path; the table prints it as a path."""
    runner = CliRunner()
    env = _env(neo4j_settings)
    acei = {"labels": ["Drug", "Entity"], "key": "Drug:acei", "name": "ACEI"}
    kidney = {"labels": ["Disease", "Entity"], "key": "Disease:糖尿病肾病", "name": "糖尿病肾病"}
    for cypher in (
        "MATCH (:Drug {key: 'Drug:acei'})-[r]->(:Entity) RETURN r",
        "MATCH (d:Drug {key: 'Drug:acei'})-[r]->(x:Entity) RETURN d, r, x",
        "MATCH (:Drug {key: 'Drug:acei'})-[r]->(:Entity) RETURN [r] AS r",
    ):
        done = runner.invoke(app, ["query", cypher, "--json"], env=env)
        assert done.exit_code == 0, done.output
        (row,) = json.loads(done.stdout)["rows"]
        rel = row["r"][0] if isinstance(row["r"], list) else row["r"]
        assert (rel["type"], rel["relation"], rel["count"]) == ("DRUG_DISEASE", "Drug_Disease", 1), cypher
        assert (rel["start"], rel["end"]) == (acei, kidney), cypher
    evidence_link = runner.invoke(
        app, ["query", "MATCH (:Sentence {sent_id: 'd2:2'})-[e:EVIDENCE]->() RETURN e", "--json"], env=env
    )
    (row,) = json.loads(evidence_link.stdout)["rows"]
    assert (row["e"]["start"], row["e"]["end"]) == ({"labels": ["Sentence"], "sent_id": "d2:2"}, acei)
    asked = ["query", "--cookbook", "drugs-for-disease", "-p", "name=糖尿病肾病", "--json"]
    (path,) = [row["path"] for row in json.loads(runner.invoke(app, asked, env=env).stdout)["rows"]]
    assert [(r["start"]["key"], r["end"]["key"]) for r in path["relationships"]] == [
        (acei["key"], kidney["key"])
    ]
    table = runner.invoke(app, ["query", "MATCH (:Drug {key: 'Drug:acei'})-[r]->(:Entity) RETURN r"], env=env)
    assert table.stdout.splitlines()[2] == "ACEI -[Drug_Disease]-> 糖尿病肾病", table.output


def test_cli_cookbook_says_when_the_entity_it_asks_about_is_not_in_the_graph(
    neo4j_settings: Neo4jSettings, loaded: str
) -> None:
    """No rows about an entity the graph lacks (a misspelt name, `drug:` for `Drug:`) must not read as "the
    graph knows no such drugs"; no rows about an entity it has needs no note."""
    runner = CliRunner()
    env = _env(neo4j_settings)
    for args, key in (
        (["drugs-for-disease", "-p", "name=糖尿病腎炎"], "Disease:糖尿病腎炎"),
        (["relationships-of-entity", "-p", "key=drug:二甲双胍"], "drug:二甲双胍"),
        (["evidence-for-relationship", "-p", "head_key=Drug:二甲双胍", "-p", "relation=Drug_Disease",
          "-p", "tail_key=Disease:2型糖尿病x"], "Disease:2型糖尿病x"),
    ):  # fmt: skip
        for output in ([], ["--json"]):
            done = runner.invoke(app, ["query", "--cookbook", *args, *output], env=env)
            assert done.exit_code == 0, done.output
            assert f"note: no entity {key} in the graph" in done.stderr, done.output
            assert "entities-by-name -p text=" in done.stderr and "note" not in done.stdout
    for name in ("糖尿病肾病", "糖尿病腎病"):  # in the graph, in simplified characters
        asked = ["query", "--cookbook", "symptoms-of-disease", "-p", f"name={name}"]
        known = runner.invoke(app, asked, env=env)
        assert known.exit_code == 0 and "(0 rows)" in known.stdout and known.stderr == "", known.output


def test_cli_evidence_question_says_how_the_two_entities_are_related_when_it_finds_nothing(
    neo4j_settings: Neo4jSettings, neo4j_driver: neo4j.Driver, loaded: str
) -> None:
    """No evidence for a misspelt relation, or for head and tail swapped, must not read as "no sentence
    supports that relationship": the note names the relations the graph has between the two."""
    runner = CliRunner()
    env = _env(neo4j_settings)
    acei, kidney = "Drug:acei", "Disease:糖尿病肾病"
    for head, relation, tail, note in (
        (acei, "Drug_Diseas", kidney,
         f"note: no Drug_Diseas relationship from {acei} to {kidney} in the graph; from {acei} to "
         f"{kidney} it has: Drug_Disease"),
        (kidney, "Drug_Disease", acei,
         f"it has them the other way round, from {acei} to {kidney}: Drug_Disease "
         "(swap head_key and tail_key)"),
        (acei, "Drug_Disease", "Disease:2型糖尿病",
         f"note: no Drug_Disease relationship from {acei} to Disease:2型糖尿病 in the graph; it holds no "
         "relationship between the two"),
    ):  # fmt: skip
        asked = ["query", "--cookbook", "evidence-for-relationship", "-p", f"head_key={head}",
                 "-p", f"relation={relation}", "-p", f"tail_key={tail}"]  # fmt: skip
        done = runner.invoke(app, asked, env=env)
        assert done.exit_code == 0 and "(0 rows)" in done.stdout, done.output
        assert note in done.stderr, done.output
    found = runner.invoke(
        app, ["query", "--cookbook", "evidence-for-relationship", "-p", f"head_key={acei}",
              "-p", "relation=drug_disease", "-p", f"tail_key={kidney}"], env=env,
    )  # fmt: skip
    assert found.exit_code == 0 and "(1 row" in found.stdout and found.stderr == "", found.output
    neo4j_driver.execute_query(  # a relationship whose sample is empty, asked for by its type
        "MATCH (:Drug {key: $key})-[r]->() SET r.evidence = []", {"key": acei}, database_=loaded
    )
    by_type = runner.invoke(
        app, ["query", "--cookbook", "evidence-for-relationship", "-p", f"head_key={acei}",
              "-p", "relation=DRUG_DISEASE", "-p", f"tail_key={kidney}"], env=env,
    )  # fmt: skip
    assert f"note: the DRUG_DISEASE relationship from {acei} to {kidney} keeps no evidence" in by_type.stderr


def test_cli_fills_limit_in_raw_cypher_and_names_a_missing_parameter(
    neo4j_settings: Neo4jSettings, loaded: str
) -> None:
    """A cookbook query saved to a file runs as docs/queries.md shows it (`nrskg query "$(cat query.cypher)"
    --param key=...`): `$limit` is one more than the row limit unless given, so that an answer cut there says
    so; a parameter left out says how to give it."""
    runner = CliRunner()
    env = _env(neo4j_settings)
    saved = COOKBOOK_BY_NAME["relationships_of_entity"].cypher
    done = runner.invoke(app, ["query", saved, "--param", 'keys=["Drug:acei"]', "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert '"other": "糖尿病肾病"' in done.stdout
    cut = runner.invoke(
        app, ["query", "UNWIND range(1, 5) AS x RETURN x LIMIT $limit", "--limit", "2"], env=env
    )
    assert cut.exit_code == 0 and "(2 rows, cut at the row limit)" in cut.stdout, cut.output
    given = runner.invoke(
        app, ["query", "UNWIND range(1, 5) AS x RETURN x LIMIT $limit", "-p", "limit=3"], env=env
    )
    assert given.exit_code == 0 and "(3 rows)" in given.stdout, given.output
    missing = runner.invoke(app, ["query", "MATCH (e:Entity {key: $key}) RETURN e.name"], env=env)
    assert missing.exit_code == 1
    assert "Expected parameter(s): key. Give each with `--param NAME=VALUE`" in missing.stderr, missing.output


LOAD_CSV = "LOAD CSV FROM $url AS line RETURN line"


def test_load_csv_is_refused_before_it_reaches_the_server(neo4j_driver: neo4j.Driver, loaded: str) -> None:
    """The command's own guard (the server refuses too: tests/graph/test_server.py)."""
    for url in ("file:///etc/passwd", "http://127.0.0.1:1/x.csv"):
        for cypher in (
            LOAD_CSV,
            "MATCH (n) WITH count(n) AS n LOAD CSV FROM $url AS line RETURN n, line",
            "CALL () { LOAD CSV FROM $url AS line RETURN line } RETURN line",
        ):
            with pytest.raises(ReadOnlyQueryError, match="refused: LOAD CSV reads files or URLs"):
                read_table(neo4j_driver, cypher, {"url": url}, timeout=TIMEOUT_S, limit=10, database=loaded)


def test_cli_query_finds_the_local_password_and_refuses_load_csv(
    local_neo4j: Any, neo4j_settings: Neo4jSettings, loaded: str
) -> None:
    if local_neo4j is None:
        pytest.skip("NEO4J_URI names an external server: the local password file is not in play")
    env = {
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_PASSWORD": None,  # removed: the CLI must find the password the local server generated
        "NRSKG_NEO4J_HOME": str(local_neo4j.data_dir),
        "NEO4J_DATABASE": loaded,
    }
    runner = CliRunner()
    counted = runner.invoke(app, ["query", "MATCH (d:Document) RETURN count(d) AS n", "--json"], env=env)
    assert counted.exit_code == 0, counted.output
    assert '"n": 2' in counted.output
    for url in ("file:///etc/passwd", "file:///work/README.md"):
        refused = runner.invoke(app, ["query", f"LOAD CSV FROM '{url}' AS line RETURN line"], env=env)
        assert refused.exit_code == 1
        assert refused.output.strip().splitlines() == [
            "error: refused: LOAD CSV reads files or URLs, not the graph. Load data with `nrskg ingest`; "
            "only queries that read the graph run here (MATCH ... RETURN)"
        ]
