"""Fixtures shared by every test package."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from graph import passwords, process, server
from graph.connection import driver, verify
from graph.settings import Neo4jSettings, ServerMemory
from nrskg.downloads import CACHE_VARIABLE, download_cache

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# No model hub in tests: a hub id that is not cached must fail at once, not after network retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# --- Logging ------------------------------------------------------------------------------------------------
# A command run in-process (typer's CliRunner) sets up the console as `nrskg` does: a handler on the root
# logger that writes to whatever stderr is at the time, and the project's loggers at INFO. Left in place,
# every later test would see those lines in its captured stderr and its caplog, depending on which ran first.


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """Put back the root logger's handlers and every logger's level as they were before the test."""
    root = logging.getLogger()
    handlers, root_level = list(root.handlers), root.level
    levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(root_level)
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


# --- The user's home ----------------------------------------------------------------------------------------
# The suite reads nothing of the account it runs under: not the password file or store of the local Neo4j that
# `make demo` leaves running, not a Prefect profile naming a team server, not a library's cache. For the whole
# run HOME is a temporary folder and the variables that would override what derives from it are unset; only
# the downloads cache (Neo4j's and bge's jars, e5's wheels) stays shared, since fetching it again takes
# minutes and the network. NEO4J_* stay only where NEO4J_URI names an external server on purpose.

HOME_OVERRIDES = (
    "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "NRSKG_NEO4J_HOME",
    "HF_HOME", "HF_HUB_CACHE",
)  # fmt: skip
HOME_KEY = pytest.StashKey[tuple[pytest.MonkeyPatch, Path]]()


def pytest_configure(config: pytest.Config) -> None:
    """Before collection, so that what reads the home at import (Prefect's profile) sees the temporary one."""
    env = pytest.MonkeyPatch()
    home = Path(tempfile.mkdtemp(prefix="nrskg-tests-home-"))
    env.setenv(CACHE_VARIABLE, str(download_cache()))  # resolved before HOME moves
    env.setenv("HOME", str(home))
    cleared = [*HOME_OVERRIDES, *(n for n in os.environ if n.startswith("PREFECT_"))]
    if not _external_uri():
        cleared += [name for name in os.environ if name.startswith("NEO4J_")]
    for name in cleared:
        env.delenv(name, raising=False)
    config.stash[HOME_KEY] = (env, home)


def pytest_unconfigure(config: pytest.Config) -> None:
    env, home = config.stash[HOME_KEY]
    env.undo()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout; tests that need the real data sets skip without it."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}: the real data sets are not available here")
    return SHARED_DATA


def checkpoint(folder: Path, version: str, metrics: dict) -> Path:
    """The files of a `nrskg train --out` directory that the registry reads (no weights)."""
    from extractor.configuration import NRSOneRelConfig, save_config

    folder.mkdir(parents=True, exist_ok=True)
    config = NRSOneRelConfig(relations=["Drug_Disease"], head_types=["Drug"], tail_types=["Disease"])
    config.model_version = version
    save_config(folder / "config.json", config)
    written = {"model_version": version, **metrics}  # training writes it last, naming the weights it scored
    (folder / "metrics.json").write_text(json.dumps(written), encoding="utf-8")
    return folder


def untrained_model(folder: Path, version: str = "") -> Path:
    """A tiny NRS-OneRel model that was never trained: it loads, runs and passes every check."""
    from transformers import AutoModel, AutoTokenizer

    from extractor.configuration import NRSOneRelConfig
    from extractor.encoders.tiny import build_tiny_encoder
    from extractor.model import NRSOneRelModel

    encoder = build_tiny_encoder(["糖尿病患者服用二甲双胍"], folder / "encoder")
    config = NRSOneRelConfig(encoder="tiny", relations=["a"], head_types=["X"], tail_types=["Y"])
    config.model_version = version
    model = NRSOneRelModel(config, AutoModel.from_pretrained(encoder))
    model.save_pretrained(folder / "model", AutoTokenizer.from_pretrained(encoder))
    return folder / "model"


# --- Neo4j --------------------------------------------------------------------------------------------------
# Integration tests run against a real Neo4j: the one NEO4J_URI names (with NEO4J_USER / NEO4J_PASSWORD /
# NEO4J_DATABASE), else one local server that this session starts on a free port in a temporary folder and
# stops at the end. The first start on a fresh machine downloads ~150 MB of jars from Maven
# (`nrskg neo4j prefetch` ahead of pytest keeps that out of the test timings).

WIPE_EXTERNAL_ENV = "NRSKG_TESTS_MAY_WIPE_NEO4J"
# A small heap keeps the suite's servers light and lets the tests that fill it do so quickly.
TEST_MEMORY = ServerMemory.from_env({}, heap="1g", pagecache="64m")


def _external_uri() -> str | None:
    return os.environ.get("NEO4J_URI", "").strip() or None


@pytest.fixture(scope="session")
def local_neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[process.ServerInfo | None]:
    """The local server this session started, or None when NEO4J_URI names an external one."""
    if _external_uri():
        yield None
        return
    if shutil.which("java") is None and not os.environ.get("CI"):
        pytest.skip("no `java` on PATH: cannot start the local Neo4j (set NEO4J_URI to use another server)")
    data_dir = tmp_path_factory.mktemp("neo4j")
    # Generous timeout: a cold JVM on a busy 2-core CI machine; jar download has its own timeout in prefetch.
    info = server.start(data_dir, process.free_port(), process.free_port(), memory=TEST_MEMORY, timeout_s=300)
    try:
        yield info
    finally:
        server.stop(data_dir)


@pytest.fixture(scope="session")
def cli_env(local_neo4j: process.ServerInfo | None) -> dict[str, str]:
    """The environment of an `nrskg` process on the local server, which finds its password file itself;
    this checkout's code first."""
    if local_neo4j is None:
        pytest.skip("NEO4J_URI names an external server: this uses the local one and its password file")
    keep = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    return keep | {
        "PYTHONPATH": str(ROOT),
        "NEO4J_URI": local_neo4j.uri,
        "NRSKG_NEO4J_HOME": str(local_neo4j.data_dir),
    }


def nrskg(
    args: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`nrskg ARGS` as a user runs it, in a process of its own; it fails if its output is still open after
    `timeout` seconds."""
    command = [sys.executable, "-m", "flows.cli", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def neo4j_uri(local_neo4j: process.ServerInfo | None) -> str:
    """Bolt URI of the Neo4j the integration tests use for the whole session."""
    return local_neo4j.uri if local_neo4j else os.environ["NEO4J_URI"].strip()


@pytest.fixture(scope="session")
def neo4j_settings(local_neo4j: process.ServerInfo | None, neo4j_uri: str) -> Neo4jSettings:
    """Settings for the test server: credentials from NEO4J_* when external, else the password that the local
    one generated (auth is on, as in every local start)."""
    if local_neo4j is None:
        return Neo4jSettings.from_env()
    return Neo4jSettings(uri=neo4j_uri, password=passwords.local_password(neo4j_uri, local_neo4j.data_dir))


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_settings: Neo4jSettings) -> Iterator[neo4j.Driver]:
    """One driver for the session, already checked to answer."""
    with driver(neo4j_settings) as drv:
        verify(drv, neo4j_settings.uri)
        yield drv


@pytest.fixture
def clean_graph(neo4j_driver: neo4j.Driver, neo4j_settings: Neo4jSettings) -> neo4j.Driver:
    """The session driver on an empty database (all nodes and relationships deleted; constraints kept).

    On an external server this wipes its database, so it needs NRSKG_TESTS_MAY_WIPE_NEO4J=1.
    """
    if _external_uri() and os.environ.get(WIPE_EXTERNAL_ENV) != "1":
        pytest.skip(
            f"would empty the external database {neo4j_settings.uri}; set {WIPE_EXTERNAL_ENV}=1 to allow"
        )
    neo4j_driver.execute_query("MATCH (n) DETACH DELETE n", database_=neo4j_settings.database)
    return neo4j_driver
