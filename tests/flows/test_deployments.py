"""prefect.yaml as `prefect deploy` reads it and a worker runs it: entrypoints, parameters, the trigger and
what it passes, log lines in the run's logs; names as in the CLI."""

from __future__ import annotations

import copy
import inspect
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml
from prefect import flow
from prefect.events import DeploymentEventTrigger, DeploymentTriggerTypes
from prefect.flows import load_flow_from_entrypoint
from prefect.server.events.actions import RunDeployment
from prefect.server.events.schemas.automations import EventTrigger as ServerEventTrigger
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.schemas.core import FlowRun
from prefect.server.utilities.user_templates import matching_types_in_templates
from prefect.testing.utilities import prefect_test_harness
from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate
from pydantic import TypeAdapter

from extractor.configuration import settable
from flows.cli import app
from flows.training import train_flow
from tests.flows.test_flows import run_logs

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in CONFIG["deployments"]}
# Options that exist only on the command line: how it prints, where the demo-like commands put things.
CLI_ONLY = {"json", "out", "retrain", "http_port"}


def cli_options(command: str) -> dict[str, Any]:
    """The command's parameters by their option name as a Python name (`--runs-root` -> runs_root)."""
    group = typer.main.get_command(app)
    found = group.get_command(click.Context(group), command)  # the group imports the command's module lazily
    assert found is not None, command
    params = {}
    for param in found.params:
        option = param.param_type_name == "option"
        name = param.opts[0].lstrip("-").replace("-", "_") if option else param.name
        params[name] = param
    return params


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_deployment_loads_and_its_parameters_validate(name: str) -> None:
    deployment = DEPLOYMENTS[name]
    flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
    assert set(deployment["parameters"]) <= set(inspect.signature(flow.fn).parameters), name
    validated = flow.validate_parameters(deployment["parameters"])  # the types Prefect checks at run time
    assert {k: validated[k] for k in deployment["parameters"]} == deployment["parameters"]


@pytest.mark.parametrize(("command", "deployment"), [("ingest", "scheduled-ingest"), ("train", "train"),
                                                     ("reextract", "reextract")])  # fmt: skip
def test_cli_options_and_flow_parameters_have_the_same_names(command: str, deployment: str) -> None:
    flow = load_flow_from_entrypoint(str(ROOT / DEPLOYMENTS[deployment]["entrypoint"]))
    flow_params = set(inspect.signature(flow.fn).parameters)
    names = set(cli_options(command)) - CLI_ONLY
    if command == "train":  # every training setting is an option there, and a key of the flow's `settings`
        assert set(settable()) <= names and "settings" in flow_params
        names -= set(settable())
    # a repeatable option may be named in the singular (`--doc-id`, flow parameter doc_ids)
    options = {o if o in flow_params else o + "s" for o in names}
    assert options <= flow_params, f"nrskg {command}: {sorted(options - flow_params)} are not flow parameters"
    assert set(DEPLOYMENTS[deployment]["parameters"]) <= flow_params
    if command == "ingest":
        assert cli_options("ingest")["runs_root"].opts[0] == "--runs-root"


def test_reextract_runs_when_a_train_flow_run_completes() -> None:
    (spec,) = DEPLOYMENTS["reextract"]["triggers"]
    trigger = TypeAdapter(DeploymentTriggerTypes).validate_python({"name": "reextract-after-train", **spec})
    assert isinstance(trigger, DeploymentEventTrigger) and trigger.enabled
    assert trigger.expect == {"prefect.flow-run.Completed"}
    assert trigger.match.model_dump()["prefect.resource.id"] == "prefect.flow-run.*"
    trigger.set_deployment_id("00000000-0000-0000-0000-000000000001")
    automation = trigger.as_automation()  # what `prefect deploy` sends to the server
    assert automation.actions[0].type == "run-deployment"


def _completed(*related: tuple[str, str]) -> ReceivedEvent:
    """The event a finished flow run emits, with its related resources as (role, name)."""
    return ReceivedEvent(
        occurred=datetime.now(UTC),
        event="prefect.flow-run.Completed",
        resource={"prefect.resource.id": f"prefect.flow-run.{uuid.uuid4()}"},
        related=[
            {
                "prefect.resource.id": f"prefect.{role}.{uuid.uuid4()}",
                "prefect.resource.role": role,
                "prefect.resource.name": name,
            }
            for role, name in related
        ],  # fmt: skip
        id=uuid.uuid4(),
    )


def test_reextract_runs_after_the_train_deployment_only() -> None:
    """A train flow run outside the deployment (`nrskg demo`, a notebook, with PREFECT_API_URL set) promoted
    its own model in its own registry, and the trigger had the worker re-extract the team's graph with it."""
    (spec,) = DEPLOYMENTS["reextract"]["triggers"]
    trigger = TypeAdapter(DeploymentTriggerTypes).validate_python({"name": "reextract-after-train", **spec})
    trigger.set_deployment_id("00000000-0000-0000-0000-000000000001")
    on_server = ServerEventTrigger.model_validate(trigger.as_automation().trigger.model_dump())
    deployment_run = [("flow", train_flow.name), ("deployment", "train"), ("work-pool", "nrskg")]
    assert on_server.covers(_completed(*deployment_run))
    assert not on_server.covers(_completed(("flow", train_flow.name)))
    assert not on_server.covers(_completed(("flow", "ingest"), ("deployment", "scheduled-ingest")))


def test_reextract_gets_the_registry_of_the_train_run_that_completed() -> None:
    """The server reads the triggering flow run for a template that names `flow_run` and renders the
    parameters as below (RunDeployment.render_parameters); the deployment's other parameters stay."""
    (spec,) = DEPLOYMENTS["reextract"]["triggers"]
    trigger = TypeAdapter(DeploymentTriggerTypes).validate_python({"name": "reextract-after-train", **spec})
    trigger.set_deployment_id("00000000-0000-0000-0000-000000000001")
    parameters = copy.deepcopy(trigger.as_automation().actions[0].parameters)
    assert set(parameters) == {"registry"} <= set(DEPLOYMENTS["reextract"]["parameters"])
    assert matching_types_in_templates(list(parameters.values()), {"flow_run", "event"}) == ["flow_run"]
    RunDeployment._upgrade_v1_templates(parameters)
    finished = FlowRun(flow_id=uuid.uuid4(), parameters={"registry": "/team/models"})
    context = HydrationContext(render_jinja=True, raise_on_error=True, jinja_context={"flow_run": finished})
    assert hydrate(parameters, context) == {"registry": "/team/models"}


def test_train_runs_one_at_a_time() -> None:
    """Two runs at once would each compare their model with the same current one, and the later promotion
    would win whichever model was better."""
    assert DEPLOYMENTS["train"]["concurrency_limit"] == 1


def _commands(lines: list[str]) -> list[str]:
    """Shell lines without their comments."""
    return [line.split("  #")[0].strip() for line in lines if line.strip()]


def test_prefect_yaml_gives_the_readme_s_commands_with_the_server_and_the_checkout_named() -> None:
    """Followed as written, `prefect worker start` refused to start without PREFECT_API_URL, and a deployment
    made without NRSKG_HOME started its runs in a temporary folder, where the flow's file is not."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Prefect\n", 1)[1]
    commands = _commands(readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines())
    header = (ROOT / "prefect.yaml").read_text(encoding="utf-8").splitlines()
    assert _commands([line.removeprefix("#") for line in header if line.startswith("#   ")]) == commands
    api_url = next(i for i, c in enumerate(commands) if c.startswith("prefect config set PREFECT_API_URL="))
    assert (
        commands.index("prefect server start")
        < api_url
        < commands.index("prefect work-pool create nrskg --type process")
    )
    assert "NRSKG_HOME=$PWD prefect deploy --all" in commands


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with prefect_test_harness():
        yield


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_log_lines_reach_the_run_logs_when_a_worker_loads_the_entrypoint(name: str, harness: None) -> None:
    """A worker loads `flows/ingest.py:ingest` as module `ingest` (or a `__prefect_loader_*__` name), outside
    the package whose loggers send records to the run (flows/logs.py)."""
    loaded = load_flow_from_entrypoint(str(ROOT / DEPLOYMENTS[name]["entrypoint"]))
    module = sys.modules[loaded.fn.__module__]
    assert not module.__name__.startswith("flows."), "not loaded the way a worker loads it"

    @flow(name=f"probe-{name}")
    def probe() -> None:
        module.log.info("probe line of %s", name)

    assert f"probe line of {name}" in run_logs(probe(return_state=True))
