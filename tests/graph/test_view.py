"""`nrskg view`: the neighbourhood read from a real Neo4j, the self-contained page, and the page in a real
headless browser (Debian's Chromium: `apt-get install -y chromium`; skipped with a reason where absent, a
failure under CI, whose `.ci/run` installs it)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import neo4j
import pytest
from typer.testing import CliRunner

from flows.cli import app
from graph.neighbourhood import Edge, Neighbourhood, Node
from graph.schema import ensure_schema
from graph.settings import Neo4jSettings
from graph.view import render_html
from graph.writer import replace_documents
from tests.graph.test_queries import SCHEMA, SENTENCES, _env, small_graph

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
HOSTILE = '</script><script>document.title="owned"</script><!--'


def browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        missing = f"no headless browser ({', '.join(BROWSERS)}) on PATH: `apt-get install -y chromium`"
        if os.environ.get("CI"):  # .ci/run installs it: a skip there would hide that the page is never drawn
            pytest.fail(missing)
        pytest.skip(missing)
    return found


def headless(page: Path, *args: str, fragment: str = "") -> str:
    """Run the browser headless on `page` (JavaScript on, no network needed) and return its stdout."""
    command = [
        browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--window-size=1280,820", "--virtual-time-budget=5000", *args, page.as_uri() + fragment,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_page_is_self_contained_and_data_cannot_become_markup() -> None:
    nodes = [Node("Drug:x", HOSTILE, "Drug", centre=True), Node("Disease:y", "糖尿病", "Disease")]
    edge = Edge("Drug:x", "Disease:y", "Drug_Disease", 1, 0.5, "v1", [{"sentence": HOSTILE, "source": "a"}])
    page = render_html(Neighbourhood(["Drug:x"], nodes, [edge]), HOSTILE)
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the template's two, nothing more
    assert "<!--" not in page and 'document.title="owned"' not in page.split("<script id=")[0]
    # Nothing is fetched: no src/href/url() (but url(#arrow) in the page)/@import/fetch; the one URL is the
    # SVG namespace, a name.
    assert not re.search(r"\b(src|href)\s*=|url\((?!#)|@import|fetch\(|XMLHttpRequest", page)
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]


def test_marks_count_code_points_and_nest_a_name_inside_the_other(tmp_path: Path) -> None:
    """Offsets count code points (Python, Cypher), so an emoji before a name must not shift its mark; DiaKG's
    Class "2型" lies inside its Disease "2型糖尿病", and both must be marked."""
    sentence = "患者😔确诊2型糖尿病5年"
    at = sentence.index("2型")  # code points: the emoji is one
    nodes = [
        Node("Class:2型", "2型", "Class", centre=True),
        Node("Disease:2型糖尿病", "2型糖尿病", "Disease"),
    ]
    place = {"sentence": sentence, "source": "a.txt", "head_start": at, "head_end": at + 2,
             "tail_start": at, "tail_end": at + 5}  # fmt: skip
    edge = Edge("Class:2型", "Disease:2型糖尿病", "Class_Disease", 1, 0.9, "v1", [place])
    page = tmp_path / "nested.html"
    page.write_text(render_html(Neighbourhood(["Class:2型"], nodes, [edge]), "2型"), encoding="utf-8")
    card = headless(page, "--dump-dom", fragment="#edge=0").split('id="tip"')[1]
    assert '<li>患者😔确诊<mark class="t"><mark class="h">2型</mark>糖尿病</mark>5年<div class="src">' in card


@pytest.fixture
def drawn(clean_graph: neo4j.Driver, neo4j_settings: Neo4jSettings, tmp_path: Path) -> Path:
    """`nrskg view 2型糖尿病` on the cookbook's small graph, written to a file."""
    ensure_schema(clean_graph, neo4j_settings.database)
    batch = small_graph()
    doc_ids = [d.doc_id for d in batch.documents]
    replace_documents(clean_graph, doc_ids, batch, "v1", SCHEMA, database=neo4j_settings.database)
    out = tmp_path / "view" / "t2dm.html"
    done = CliRunner().invoke(app, ["view", "２型糖尿病", "--out", str(out)], env=_env(neo4j_settings))
    assert done.exit_code == 0, done.output
    assert "8 entities, 7 relationships around 2型糖尿病 (Disease)" in done.output
    return out


def test_view_writes_the_neighbourhood_with_confidence_and_evidence(drawn: Path, neo4j_settings) -> None:
    page = drawn.read_text(encoding="utf-8")
    assert "二甲双胍" in page and SENTENCES["d1:1"] in page and '"confidence": 0.9' in page
    missing = CliRunner().invoke(app, ["view", "不存在的病", "--out", str(drawn)], env=_env(neo4j_settings))
    assert missing.exit_code == 1 and "entities-by-name" in missing.output


def test_view_type_ignores_case_and_a_wrong_one_names_the_types_there(
    drawn: Path, neo4j_settings: Neo4jSettings
) -> None:
    env = _env(neo4j_settings)
    lower = CliRunner().invoke(app, ["view", "2型糖尿病", "--type", "disease", "--out", str(drawn)], env=env)
    assert lower.exit_code == 0 and "around 2型糖尿病 (Disease)" in lower.stdout, lower.output
    wrong = CliRunner().invoke(app, ["view", "2型糖尿病", "--type", "Drug", "--out", str(drawn)], env=env)
    assert wrong.exit_code == 1
    assert wrong.stderr.strip() == (
        "error: no entity named '2型糖尿病' of type Drug; the graph has it as Disease. Ask for one of those "
        "by its key, e.g. `nrskg view Disease:2型糖尿病`, or give no type"
    )


def test_view_takes_a_key_as_queries_print_it(drawn: Path, neo4j_settings: Neo4jSettings) -> None:
    """The cookbook prints keys (`Drug:二甲双胍`); pasted into `nrskg view`, one draws that entity."""
    env = _env(neo4j_settings)
    for key in ("Drug:二甲双胍", "drug:二甲双胍"):
        done = CliRunner().invoke(app, ["view", key, "--out", str(drawn)], env=env)
        assert done.exit_code == 0 and "around 二甲双胍 (Drug)" in done.stdout, done.output
    wrong = CliRunner().invoke(app, ["view", "Disease:二甲双胍", "--out", str(drawn)], env=env)
    assert wrong.exit_code == 1 and "the graph has it as Drug" in wrong.stderr, wrong.output
    typed = CliRunner().invoke(app, ["view", "Drug:二甲双胍", "--type", "drug", "--out", str(drawn)], env=env)
    assert typed.exit_code == 0 and "around 二甲双胍 (Drug)" in typed.stdout, typed.output
    other = CliRunner().invoke(
        app, ["view", "Drug:二甲双胍", "--type", "Disease", "--out", str(drawn)], env=env
    )
    assert other.exit_code == 1 and "the graph has it as Drug" in other.stderr, other.output


def test_view_takes_a_key_typed_by_hand(drawn: Path, neo4j_settings: Neo4jSettings) -> None:
    """A key pasted with a space before it or typed with a full-width colon draws its entity (the type was
    kept with its space, and the error said the graph had it as its own type)."""
    for typed in (" Drug:二甲双胍", "Drug：二甲双胍"):
        done = CliRunner().invoke(app, ["view", typed, "--out", str(drawn)], env=_env(neo4j_settings))
        assert done.exit_code == 0 and "around 二甲双胍 (Drug)" in done.stdout, done.output


def test_a_wrong_type_names_each_type_once(
    clean_graph: neo4j.Driver, drawn: Path, neo4j_settings: Neo4jSettings
) -> None:
    """Two entities of one type, the name in each script, are one type in the message, not `Drug, Drug`."""
    clean_graph.execute_query(
        "CREATE (:Entity:Drug {key: 'Drug:二甲雙胍', name: '二甲雙胍', type: 'Drug'})",
        database_=neo4j_settings.database,
    )
    done = CliRunner().invoke(
        app, ["view", "二甲双胍", "--type", "Disease", "--out", str(drawn)], env=_env(neo4j_settings)
    )
    assert done.exit_code == 1 and "the graph has it as Drug. Ask" in done.stderr, done.output


def test_view_finds_a_name_typed_in_the_other_script(drawn: Path, neo4j_settings: Neo4jSettings) -> None:
    """The graph holds `二甲双胍` (simplified): typed in traditional characters, as a name or a key, it is
    drawn all the same."""
    for typed in ("二甲雙胍", "Drug:二甲雙胍"):
        done = CliRunner().invoke(app, ["view", typed, "--out", str(drawn)], env=_env(neo4j_settings))
        assert done.exit_code == 0 and "around 二甲双胍 (Drug)" in done.stdout, done.output


def test_view_counts_one_relationship_as_one(drawn: Path, neo4j_settings: Neo4jSettings) -> None:
    done = CliRunner().invoke(app, ["view", "ACEI", "--out", str(drawn)], env=_env(neo4j_settings))
    assert done.exit_code == 0 and "2 entities, 1 relationship around ACEI (Drug)" in done.stdout, done.output


def test_view_says_when_limit_left_relationships_out(drawn: Path, neo4j_settings: Neo4jSettings) -> None:
    """2型糖尿病 has 7 relationships: drawn with --limit 3 the line says the 3 are the strongest of more, so
    it does not read as all it has; drawn whole it says nothing of the kind."""
    env = _env(neo4j_settings)
    cut = CliRunner().invoke(app, ["view", "2型糖尿病", "--limit", "3", "--out", str(drawn)], env=env)
    assert cut.exit_code == 0, cut.output
    assert "4 entities, 3 relationships (the strongest; more with --limit) around 2型糖尿病" in cut.stdout
    whole = CliRunner().invoke(app, ["view", "2型糖尿病", "--limit", "7", "--out", str(drawn)], env=env)
    assert "8 entities, 7 relationships around" in whole.stdout, whole.output


def test_view_says_when_it_cannot_write_the_page(drawn: Path, neo4j_settings: Neo4jSettings) -> None:
    """A folder, or a file where the folder should be, is the user's mistake to fix, not a bug of nrskg."""
    blocked = drawn.parent / "t2dm.html" / "x.html"
    for out in (drawn.parent, blocked):
        done = CliRunner().invoke(app, ["view", "2型糖尿病", "--out", str(out)], env=_env(neo4j_settings))
        assert done.exit_code == 1
        assert done.stderr.startswith(f"error: --out {out}: cannot write the page ("), done.output
        assert "e.g. --out kidney.html" in done.stderr and "bug" not in done.stderr


def test_page_draws_and_shows_evidence_in_headless_chromium(drawn: Path, tmp_path: Path) -> None:
    dom = headless(drawn, "--dump-dom", fragment="#edge=0")
    assert 'data-ready="1"' in dom  # the script ran to the end
    assert len(re.findall(r'<g class="node', dom)) == 8 and len(re.findall(r'<g class="edge', dom)) == 7
    assert len(re.findall(r'<g class="node centre"', dom)) == 1
    # Relationship 0 (二甲双胍 -> 2型糖尿病, two sentences) opens pinned: its card is on the page.
    card = dom[dom.index('id="tip"') :]
    assert "二甲双胍 → Drug_Disease → 2型糖尿病" in card and "confidence 0.900" in card
    assert '<mark class="h">二甲双胍</mark>' in card and '<mark class="t">2型糖尿病</mark>' in card
    assert "guides/d1.txt" in card
    positions = [tuple(map(float, m)) for m in re.findall(r"translate\(([-\d.]+),([-\d.]+)\)", dom)]
    assert len(set(positions)) >= 8 and all(0 <= x <= 1280 and 0 <= y <= 820 for x, y in positions[1:])

    shot = tmp_path / "view.png"
    headless(drawn, f"--screenshot={shot}", fragment="#edge=0")
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (1280, 820)
    assert shot.stat().st_size > 20_000  # a drawn graph, not a blank page
