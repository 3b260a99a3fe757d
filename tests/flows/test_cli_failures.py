"""Each way `nrskg ingest` is known to fail ends in one `error: <cause>. <what to do>` line, last on stderr,
with a nonzero exit code and no traceback (unless -v): run as a user runs it, in a process of its own, against
the session's real Neo4j. Checks that need no extraction fail before Prefect starts, in seconds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from extractor.model import CONFIG_NAME, WEIGHTS_NAME, NRSOneRelModel
from graph import process
from nrskg.errors import ModelError
from pipeline import runs
from tests.conftest import ROOT, nrskg, untrained_model

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

CORPUS = ROOT / "flows" / "sample" / "corpus"


def lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return done.stderr.strip().splitlines()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An untrained tiny model (it passes every check), one with truncated and one with random weights, and
    one whose config no longer fits its weights (found only when the model loads, inside the flow)."""
    root = tmp_path_factory.mktemp("cli-failures")
    untrained_model(root)
    names = ("truncated", "random", "mismatched")
    for name in names:
        shutil.copytree(root / "model", root / name)
    weights = root / "truncated" / WEIGHTS_NAME
    os.truncate(weights, weights.stat().st_size // 2)
    (root / "random" / WEIGHTS_NAME).write_bytes(os.urandom(4096))
    saved = json.loads((root / "mismatched" / CONFIG_NAME).read_text())
    (root / "mismatched" / CONFIG_NAME).write_text(json.dumps(saved | {"d_e": saved["d_e"] * 2}))
    return {"root": root, "model": root / "model"} | {name: root / name for name in names}


def assert_one_error_line(outcome: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert outcome.returncode != 0
    assert "Traceback" not in outcome.stderr, outcome.stderr
    errors = [line for line in lines(outcome) if line.startswith("error:")]
    assert len(errors) == 1 and lines(outcome)[-1] == errors[0], outcome.stderr
    assert ". " in errors[0], f"no remedy after the cause: {errors[0]}"
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


CASES = {
    "neo4j down": (
        {"NEO4J_URI": "bolt://127.0.0.1:{free_port}"},
        ["--model", "{model}"],
        ["does not answer (Connection refused)", "nrskg neo4j start"],
    ),
    "wrong password": (
        {"NEO4J_PASSWORD": "not-the-password"},
        ["--model", "{model}"],
        ["refused the credentials"],
    ),
    "http URI": (
        {"NEO4J_URI": "http://127.0.0.1:7474"},
        ["--model", "{model}"],
        ["is not a Bolt URI", "bolt://"],
    ),
    "unknown database": (
        {"NEO4J_DATABASE": "nosuchdb"},
        ["--model", "{model}"],
        ["has no such database", "nosuchdb", "Set NEO4J_DATABASE"],
    ),
    "device tpu": ({}, ["--model", "{model}", "--device", "tpu"], ["unknown device 'tpu'", "--device auto"]),
    "missing model": ({}, ["--model", "{root}/no-such-model"], ["is not a model directory", "nrskg train"]),
    "truncated weights": ({}, ["--model", "{truncated}"], ["not a complete safetensors file", "incomplete"]),
    "random weights": ({}, ["--model", "{random}"], ["not a complete safetensors file"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ingest_failure_is_one_line_without_traceback_and_before_prefect(
    case: str, workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    overrides, options, fragments = CASES[case]
    names = {**{k: str(v) for k, v in workspace.items()}, "free_port": str(process.free_port())}
    case_env = cli_env | {k: v.format(**names) for k, v in overrides.items()}
    args = ["ingest", str(CORPUS), "--runs", str(workspace["root"] / "runs"), "--json"] + [
        o.format(**names) for o in options
    ]
    outcome = nrskg(args, case_env, workspace["root"])
    assert_one_error_line(outcome, *fragments)
    printed = json.loads(outcome.stdout)  # --json: an object on stdout, with the error line's text
    assert printed == {"status": "failed", "error": lines(outcome)[-1].removeprefix("error: ")}
    assert "prefect" not in outcome.stderr.lower(), "these checks run before any Prefect flow starts"
    assert not (workspace["root"] / "runs").exists(), "nothing ran, so no run folder"


def test_a_corpus_that_does_not_exist_is_one_error_line_and_exit_1(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    missing = workspace["root"] / "no-such-corpus"
    outcome = nrskg(["ingest", str(missing), "--model", str(workspace["model"])], cli_env, workspace["root"])
    assert outcome.returncode == 1
    assert_one_error_line(outcome, f"{missing}: no such file or folder", "Give a corpus folder or a")


def test_reextract_of_a_document_not_in_the_graph_is_one_error_line_and_exit_1(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    model = str(workspace["model"])
    args = ["reextract", "--model", model, "--device", "cpu", "--doc-id", "nosuch", "--json"]
    outcome = nrskg(args, cli_env, workspace["root"])
    assert outcome.returncode == 1
    assert_one_error_line(outcome, "not in the graph: nosuch", "Name a document by its source")
    printed = json.loads(outcome.stdout)  # --json: an object on stdout on failure too, as ingest prints
    assert printed == {"status": "failed", "error": lines(outcome)[-1].removeprefix("error: ")}


def test_remove_of_a_path_not_in_the_graph_prints_json_with_json(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    outcome = nrskg(["remove", str(workspace["root"] / "nosuch"), "--json"], cli_env, workspace["root"])
    assert outcome.returncode == 1
    assert_one_error_line(outcome, "no document in the graph was read from")
    printed = json.loads(outcome.stdout)
    assert printed == {"status": "failed", "error": lines(outcome)[-1].removeprefix("error: ")}


def test_verbose_shows_the_traceback_and_still_ends_in_the_error_line(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    args = ["-v", "ingest", str(CORPUS), "--model", str(workspace["truncated"]), "--runs", "runs"]
    outcome = nrskg(args, cli_env, workspace["root"])
    assert outcome.returncode == 1 and "Traceback" in outcome.stderr and "SafetensorError" in outcome.stderr
    last = lines(outcome)[-1]
    assert last.startswith("error: ") and "not a complete safetensors file" in last


def test_extract_with_broken_weights_is_a_model_error(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    """`nrskg extract` has no preflight: the model loader itself names the broken file."""
    with pytest.raises(ModelError, match="not a complete safetensors file.*Copy the model directory again"):
        NRSOneRelModel.from_pretrained(workspace["random"])
    texts = workspace["root"] / "texts.txt"
    texts.write_text("二甲双胍用于2型糖尿病\n", encoding="utf-8")
    args = ["extract", "--model", str(workspace["truncated"]), "--input", str(texts), "--out", "out.jsonl"]
    assert_one_error_line(nrskg(args, cli_env, workspace["root"]), "not a complete safetensors file")


def test_prefect_server_that_does_not_start_is_one_line_and_left_running_by_no_one(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    """A temporary Prefect server that misses its start-up wait (a busy machine; here a wait of 0 s) is
    stopped and named before the flow runs. Left to Prefect, a second server started on its port and the
    first outlived the command holding stdout and stderr open, so that reading them (as this test does)
    never ended."""
    runs_root = workspace["root"] / "runs-no-prefect"
    env = cli_env | {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0"}
    args = ["ingest", str(CORPUS), "--model", str(workspace["model"]), "--runs", str(runs_root)]
    outcome = nrskg([*args, "--device", "cpu"], env, workspace["root"], timeout=120)
    assert_one_error_line(
        outcome, "temporary Prefect server did not start", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    )
    assert not runs_root.exists(), "the flow never started, so no run folder"


def test_prefect_api_url_that_does_not_answer_is_one_line_naming_it_before_the_flow(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    """A PREFECT_API_URL where no server answers is a setting to fix, named before the flow, not a bug."""
    runs_root = workspace["root"] / "runs-no-api"
    api_url = f"http://127.0.0.1:{process.free_port()}/api"
    args = ["ingest", str(CORPUS), "--model", str(workspace["model"]), "--runs", str(runs_root)]
    outcome = nrskg([*args, "--device", "cpu"], cli_env | {"PREFECT_API_URL": api_url}, workspace["root"])
    assert_one_error_line(outcome, f"the Prefect server at PREFECT_API_URL {api_url} does not answer")
    assert outcome.returncode == 1 and "bug" not in lines(outcome)[-1]
    assert not runs_root.exists(), "the flow never started, so no run folder"


def test_failure_inside_the_flow_is_one_line_and_leaves_a_failed_run(
    workspace: dict[str, Path], cli_env: dict[str, str]
) -> None:
    """Prefect runs and logs, the model fails to load in the extract task: still one line, last, no
    traceback, and the run folder records the failure."""
    runs_root = workspace["root"] / "runs-mismatched"
    args = ["ingest", str(CORPUS), "--model", str(workspace["mismatched"]), "--runs", str(runs_root)]
    outcome = nrskg([*args, "--device", "cpu"], cli_env, workspace["root"])
    assert_one_error_line(outcome, "ingest stopped in chunk 1 of 1", "stage extract", "weights do not match")
    [run_dir] = runs_root.iterdir()
    summary = runs.read_summary(run_dir)
    assert summary["status"] == "failed" and "weights do not match" in summary["error"]
    assert set(pd.read_parquet(f"{run_dir}/manifest.parquet")["status"]) == {"failed:extract"}


# `nrskg` whose load stage gets a real signal: `{send}` is `os.kill(os.getpid(), signal.SIGTERM)` (a scheduler
# stopping the run: `kill`, a Prefect worker cancelling it) or `os.killpg(0, signal.SIGINT)` (Ctrl-C at a
# terminal, which the whole process group gets, the temporary Prefect server too).
SIGNAL_AT_LOAD = """
import os, signal, sys, time
from flows import tasks
def load(*args):
    {send}
    time.sleep(60)
tasks.load = load
from flows.cli import app
app(prog_name="nrskg")
"""


def _ctrl_c_delivered() -> None:
    """SIGINT at its default in the command, as at a terminal: a suite started in the background (`make test
    &`, nohup) passes SIGINT on ignored, and a command started so rightly ignores Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_with(marker: str) -> list[int]:
    """Processes whose environment holds `marker`: what a command started and left running."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize(
    "send", ["os.kill(os.getpid(), signal.SIGTERM)", "os.killpg(0, signal.SIGINT)"], ids=["SIGTERM", "Ctrl-C"]
)
def test_a_signal_during_ingest_is_recorded_as_interrupted_and_leaves_no_process_behind(
    send: str, workspace: dict[str, Path], cli_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGTERM used to kill the command mid-flow: no output, not even with --json, documents recorded as
    `failed:load` "TerminationSignal", and the temporary Prefect server left running. Ctrl-C at a terminal
    also stopped that server, and reporting the stopped run to it then ended in "unexpected ConnectError ...
    a bug in nrskg", exit code 1. Both now stop the run as Ctrl-C is documented to."""
    runs_root, marker = tmp_path / "runs", f"NRSKG_TEST_RUN={os.getpid()}-{tmp_path.name}"
    key, value = marker.split("=")
    model = untrained_model(tmp_path, version="untrained-signal")
    args = ["ingest", str(CORPUS), "--model", str(model), "--runs", str(runs_root), "--json"]
    outcome = subprocess.run(
        [sys.executable, "-c", SIGNAL_AT_LOAD.format(send=send), *args, "--device", "cpu"],
        env=cli_env | {key: value}, cwd=workspace["root"], capture_output=True, text=True, timeout=300,
        start_new_session=True,  # a terminal's process group, of its own
        preexec_fn=_ctrl_c_delivered,
    )  # fmt: skip
    # After Ctrl-C, Prefect's log shipping reports the server gone ("All connection attempts failed") without
    # ending its line: the word ends the last line.
    assert outcome.returncode == 130 and lines(outcome)[-1].endswith("interrupted"), outcome.stderr
    assert "bug" not in outcome.stderr
    printed = json.loads(outcome.stdout)
    assert printed["status"] == printed["error"] == "interrupted" and printed["documents_not_reached"] == 11
    [run_dir] = runs_root.iterdir()
    assert runs.read_summary(run_dir)["status"] == "interrupted"
    assert set(pd.read_parquet(f"{run_dir}/manifest.parquet")["status"]) == {"not_reached"}
    assert processes_with(marker) == [], "the temporary Prefect server outlived the command"
