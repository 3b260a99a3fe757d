"""The README's main job on the embedded default: local Neo4j with Browser, the project's own sample, answers.

Run twice, it creates nothing new the second time: the model is trained once (the registry keeps it) and the
ingest skips documents already loaded by the current model (and writes no run folder).
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from extractor import registry as model_registry
from flows.ingest import ingest
from flows.training import train_flow
from graph import passwords, process, server
from graph.connection import driver
from graph.queries import cookbook_query
from graph.read import ReadResult, read_table
from graph.settings import Neo4jSettings
from nrskg.contracts import DEFAULT_REGISTRY
from pipeline.keys import cookbook_parameters
from pipeline.summary import IngestSummary
from pipeline.summary import summary_rows as ingest_rows

log = logging.getLogger(__name__)

SAMPLE = Path(__file__).resolve().parent / "sample"
ANNOTATED = SAMPLE / "annotated.jsonl"
CORPUS = SAMPLE / "corpus"
ANSWER_ROWS = 10


@dataclass(frozen=True)
class DemoSettings:
    """Where the demo keeps its registry and run folders; the sample trains with the tiny preset."""

    registry: str = DEFAULT_REGISTRY
    runs_root: str = "runs"
    seed: int = 13
    val_fraction: float = 0.0  # 105 sentences: select on training F1 and keep every sentence for training
    http_port: int = server.DEFAULT_HTTP_PORT
    questions: tuple[tuple[str, dict[str, str]], ...] = (
        ("drugs_for_disease", {"name": "糖尿病肾病"}),
        ("relationships_of_entity", {"key": "Drug:二甲双胍"}),
    )


@dataclass
class DemoResult:
    neo4j_uri: str
    model_version: str
    trained: bool
    training_f1: float | None  # on the training sample: the demo holds no documents out
    ingest: IngestSummary
    answers: dict[str, ReadResult]
    browser_url: str | None
    browser_note: str | None  # why there is no Browser URL, or what to do to get one
    browser_login: str | None = None  # what Browser asks for on a server with auth, and where to find it


def demo(settings: DemoSettings | None = None, retrain: bool = False) -> DemoResult:
    """Start the local Neo4j with Browser unless NEO4J_URI points elsewhere, train on the sample if needed,
    ingest the sample corpus, and ask the cookbook questions."""
    settings = settings or DemoSettings()
    local = Neo4jSettings.from_env().uri == Neo4jSettings().uri
    info = server.start(http_port=settings.http_port) if local else None
    neo4j = Neo4jSettings.from_env()  # after the start: it finds the password the local server generated
    browser_url, browser_note = None, f"NEO4J_URI is {neo4j.uri}: use that server's own Browser"
    browser_login = None
    if info is not None:
        browser_url, browser_note = _browser(info, settings.http_port)
        browser_login = _login(info)
    trained = retrain or model_registry.current(Path(settings.registry)) is None
    training_f1 = None
    if trained:
        outcome = train_flow(
            str(ANNOTATED), "jsonl", encoder="tiny", registry=settings.registry,
            settings={"seed": settings.seed, "val_fraction": settings.val_fraction, "device": "cpu"},
        )  # fmt: skip
        training_f1 = None if outcome.held_out else outcome.candidate_f1
    summary = ingest(str(CORPUS), registry=settings.registry, runs_root=settings.runs_root, neo4j=neo4j)
    answers = {}
    with driver(neo4j) as drv:
        for name, params in settings.questions:
            query = cookbook_query(name)
            asked = cookbook_parameters(query, params, ANSWER_ROWS)
            title = f"{query.question} ({', '.join(f'{k}={v}' for k, v in params.items())})"
            answers[title] = read_table(
                drv, query.cypher, asked, timeout=neo4j.query_timeout_s, limit=ANSWER_ROWS,
                database=neo4j.database,
            )  # fmt: skip
    return DemoResult(
        neo4j.uri, summary.model_version, trained, training_f1, summary, answers, browser_url, browser_note,
        browser_login,
    )  # fmt: skip


def _browser(info: process.ServerInfo, http_port: int) -> tuple[str | None, str | None]:
    """Browser's URL once it answers on loopback, or why there is none and how to get it."""
    advice = server.http_advice(info, http_port)
    if info.browser_url is None:
        return None, advice
    try:
        with urllib.request.urlopen(info.browser_url, timeout=30) as page:
            page.read(1)
    except (urllib.error.URLError, OSError) as e:
        return None, f"Neo4j Browser did not answer at {info.browser_url} ({e}); see {info.log_file}"
    return info.browser_url, None


def _login(info: process.ServerInfo) -> str | None:
    """With auth on (the default), Browser's form has the user filled in and asks for the password: say where
    the local server keeps it (never print the password itself)."""
    if not info.auth:
        return None
    return f"user neo4j; its password: `cat {passwords.password_file(info.data_dir)}`"


def summary_rows(result: DemoResult) -> list[tuple[str, str]]:
    """The run as (what, value) rows: server, model, then the ingest's counts."""
    if not result.trained:
        model = f"{result.model_version} (from the registry)"
    elif result.training_f1 is not None:
        f1 = result.training_f1
        model = f"{result.model_version} (trained now; training F1 {f1:.3f}: the sample has no held-out part)"
    else:
        model = f"{result.model_version} (trained now)"
    return [("Neo4j", result.neo4j_uri), ("model", model), *ingest_rows(result.ingest)[1:]]


def next_rows(result: DemoResult) -> list[tuple[str, str]]:
    """What to do now: open Browser, ask the cookbook, draw a neighbourhood, see the run, stop Neo4j."""
    name = "糖尿病肾病"
    return [
        ("Neo4j Browser", result.browser_url or result.browser_note or "-"),
        *([("", result.browser_login)] if result.browser_url and result.browser_login else []),
        ("cookbook", "nrskg query --list"),
        ("", f"nrskg query --cookbook drugs-for-disease -p name={name}"),
        ("a picture", f"nrskg view {name} --out {name}.html"),
        ("run folder", result.ingest.run_dir or "none this time (nothing new to load)"),
        ("models", "nrskg models list"),
        ("stop Neo4j", "nrskg neo4j stop"),
    ]
