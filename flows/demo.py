"""The README's main job on the embedded default: local Neo4j, the project's own sample, two cookbook answers.

Run twice, it creates nothing new the second time: the model is trained once (the registry keeps it) and the
ingest skips documents already loaded by the current model.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from extractor import registry as model_registry
from flows.ingest import IngestSummary, ingest
from flows.training import train_flow
from graph import server
from graph.connection import driver
from graph.queries import COOKBOOK_BY_NAME
from graph.read import ReadResult, read_table
from graph.settings import Neo4jSettings

log = logging.getLogger(__name__)

SAMPLE = Path(__file__).resolve().parent / "sample"
ANNOTATED = SAMPLE / "annotated.jsonl"
CORPUS = SAMPLE / "corpus"


@dataclass(frozen=True)
class DemoSettings:
    """Where the demo keeps its registry and run folders; the sample trains with the tiny preset."""

    registry: str = "models"
    runs_root: str = "runs"
    seed: int = 13
    val_fraction: float = 0.0  # 105 sentences: select on training F1 and keep every sentence for training
    questions: tuple[tuple[str, dict[str, str]], ...] = (
        ("drugs_for_disease", {"name": "糖尿病肾病"}),
        ("adverse_effects_of_drug", {"name": "胰岛素"}),
    )


@dataclass
class DemoResult:
    neo4j_uri: str
    model_version: str
    trained: bool
    ingest: IngestSummary
    answers: dict[str, ReadResult]


def demo(settings: DemoSettings | None = None, retrain: bool = False) -> DemoResult:
    """Start the local Neo4j unless NEO4J_URI points elsewhere, train on the sample if needed, ingest."""
    settings = settings or DemoSettings()
    if Neo4jSettings.from_env().uri == Neo4jSettings().uri:
        info = server.start()
        log.info("local Neo4j at %s", info.uri)
    neo4j = Neo4jSettings.from_env()  # after the start: it finds the password the local server generated
    trained = retrain or model_registry.current(Path(settings.registry)) is None
    if trained:
        train_flow(
            str(ANNOTATED), "jsonl", encoder="tiny", registry=settings.registry, seed=settings.seed,
            val_fraction=settings.val_fraction, device="cpu",
        )  # fmt: skip
    summary = ingest(str(CORPUS), registry=settings.registry, runs_root=settings.runs_root, neo4j=neo4j)
    answers = {}
    with driver(neo4j) as drv:
        for name, params in settings.questions:
            query = COOKBOOK_BY_NAME[name]
            answers[query.question + " " + str(params)] = read_table(
                drv, query.cypher, {**params, "limit": 10}, timeout=neo4j.query_timeout_s, limit=10,
                database=neo4j.database,
            )  # fmt: skip
    return DemoResult(neo4j.uri, summary.model_version, trained, summary, answers)


def summary_lines(result: DemoResult) -> list[str]:
    """What the CLI prints: the run summary and the two answers."""
    lines = [
        f"Neo4j: {result.neo4j_uri}",
        f"model: {result.model_version} ({'trained now' if result.trained else 'from the registry'})",
    ]
    lines += [f"  {k}: {v}" for k, v in asdict(result.ingest).items()]
    return lines
