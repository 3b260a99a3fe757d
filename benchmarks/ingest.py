"""Where an ingest's time goes, and what a second worker buys: `nrskg ingest` run as a user runs it.

    python -m benchmarks.ingest --model DIR [--corpus FILE] [--limit N] [--workers 1 2]

For each worker count: an empty graph, a fresh Prefect result store (no extraction cache hit from the run
before), then `nrskg ingest CORPUS --model DIR --workers W --json` in a new process, timed from outside. The
flow's summary splits its own time by stage (read, split, extract, dedup, load, run folder); what is left of
the process's wall time is Prefect and start-up: imports, the preflight checks, the ephemeral Prefect server,
task orchestration (set PREFECT_API_URL to measure against a running Prefect server: no ephemeral one
starts then). Uses the server of NEO4J_URI, or a throwaway local Neo4j; the database is emptied before
each run, so never point NEO4J_URI at data you want to keep.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import (
    DATA_ROOT,
    REPO,
    RESULTS_DIR,
    first_lines,
    log_progress,
    machine,
    text_table,
    write_json,
)
from benchmarks.graph_load import DELETE_EVERYTHING, neo4j_for_benchmark
from graph.connection import driver as open_driver
from graph.settings import Neo4jSettings

log = logging.getLogger("benchmarks.ingest")

DEFAULT_CORPUS = DATA_ROOT / "cmeie" / "unlabelled.jsonl"
RESULTS = RESULTS_DIR / "ingest.json"
FLOW_STAGES = ("read", "loaded versions", "split", "extract", "dedup", "load", "write run folder")
GOAL_OVERHEAD_SHARE = 0.10  # goal: Prefect and start-up at most 10% of a CPU ingest


def empty_graph(settings: Neo4jSettings) -> None:
    with open_driver(settings) as drv, drv.session(database=settings.database) as session:
        session.run(DELETE_EVERYTHING).consume()


def run_ingest(corpus: Path, model: str, workers: int, settings: Neo4jSettings, workdir: Path) -> dict:
    """One `nrskg ingest` process on an empty graph with an empty result store; its summary and wall time."""
    empty_graph(settings)
    env = os.environ | {
        "NEO4J_URI": settings.uri,
        "NEO4J_USER": settings.user,
        "NEO4J_PASSWORD": settings.password.get_secret_value() if settings.password else "",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(workdir / f"results-{workers}"),
    }
    runs = workdir / f"runs-{workers}"
    command = [sys.executable, "-m", "flows.cli", "ingest", str(corpus), "--model", model,
               "--runs-root", str(runs), "--workers", str(workers), "--json"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ingest with {workers} workers failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    stages = {k: v for k, v in summary["seconds"].items() if k != "total"}
    overhead = wall - sum(stages.values())
    row = {
        "workers": workers,
        "wall_s": round(wall, 1),
        **{f"{k}_s": round(stages.get(k, 0.0), 2) for k in FLOW_STAGES},
        "prefect_and_startup_s": round(overhead, 1),
        "prefect_and_startup_share": round(overhead / wall, 3),
        "documents_loaded": summary["documents_new"],
        "sentences": summary["sentences"],
        "triples": summary["triples"],
        "nodes_created": summary["graph"].get("nodes_created", 0),
    }
    log.info("ingest %s", row)
    return row


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model directory (the one a user would ingest with)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a corpus file or folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N lines of a .jsonl corpus")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus}: not found (the CMeIE corpus is in ../shared/data; pass --corpus)")
    log_progress(neo4j=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="nrskg-ingest-bench-") as tmp, neo4j_for_benchmark() as found:
        settings, where = found
        corpus = (
            first_lines(args.corpus, args.limit, Path(tmp) / args.corpus.name) if args.limit else args.corpus
        )
        rows = [run_ingest(corpus, args.model, w, settings, Path(tmp)) for w in args.workers]
        empty_graph(settings)
    base = rows[0]["wall_s"]
    for row in rows:
        row["speed_up"] = round(base / row["wall_s"], 2)
    result = {
        "server": where,
        "corpus": str(args.corpus) + (f" (first {args.limit} lines)" if args.limit else ""),
        "model": args.model,
        "prefect_api": os.environ.get("PREFECT_API_URL") or "ephemeral server (no PREFECT_API_URL)",
        "machine": machine(with_torch=False),
        "goal_overhead_share": GOAL_OVERHEAD_SHARE,
        "runs": rows,
    }
    columns = ["workers", "wall_s", "speed_up", *[f"{k}_s" for k in FLOW_STAGES], "prefect_and_startup_s",
               "prefect_and_startup_share", "documents_loaded", "triples"]  # fmt: skip
    print(f"\n{where}; Prefect {result['prefect_api']}; corpus {result['corpus']}; model {args.model}")
    print(text_table(rows, columns))
    print(f"-> {write_json(args.out, result)}")
    return result


if __name__ == "__main__":
    main()
