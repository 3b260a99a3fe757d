"""`nrskg models list|register|promote` on directories as `nrskg train` writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractor import registry
from flows.cli import app
from nrskg.errors import ModelError
from tests.conftest import checkpoint

runner = CliRunner()


def test_register_list_promote(tmp_path: Path) -> None:
    models = tmp_path / "models"
    a = checkpoint(
        tmp_path / "runs" / "a", "v-a", {"selected_on": "validation", "best_val_f1": 0.4, "train_f1": 0.9}
    )
    b = checkpoint(
        tmp_path / "runs" / "b",
        "v-b",
        {"selected_on": "training sample", "best_val_f1": 0.99, "train_f1": 0.99},
    )

    models.mkdir()
    empty = runner.invoke(app, ["models", "list", "--registry", str(models)])
    assert empty.exit_code == 0 and "nrskg models register DIR" in empty.output

    for folder in (a, b):
        done = runner.invoke(app, ["models", "register", str(folder), "--registry", str(models)])
        assert done.exit_code == 0, done.output
    assert registry.current(models) is None  # registering alone changes nothing that flows use
    metrics = {v: e.metrics for v, e in registry.load(models).versions.items()}
    assert metrics == {"v-a": {"val_f1": 0.4, "train_f1": 0.9}, "v-b": {"train_f1": 0.99}}  # no fake val F1

    promoted = runner.invoke(app, ["models", "promote", "v-a", "--registry", str(models)])
    assert promoted.exit_code == 0 and "nrskg reextract" in promoted.output
    listed = runner.invoke(app, ["models", "list", "--registry", str(models)])
    rows = {line[2:].split()[0]: line for line in listed.output.splitlines()[1:]}
    assert rows["v-a"].startswith("* ") and "0.4000" in rows["v-a"] and rows["v-b"].startswith("  ")
    assert registry.current(models).path == str(a.resolve())
    assert json.loads((models / "registry.json").read_text())["versions"]["v-a"]["path"] == "../runs/a"


def test_the_next_command_printed_names_the_registry_it_was_given(tmp_path: Path) -> None:
    """Run as printed, `nrskg models promote VERSION` and `nrskg reextract` went to `models/`, not to the
    registry just written."""
    models = tmp_path / "team-models"
    checkpoint(tmp_path / "runs" / "a", "v-a", {"train_f1": 0.9})
    done = runner.invoke(app, ["models", "register", str(tmp_path / "runs" / "a"), "--registry", str(models)])
    assert f"`nrskg models promote v-a --registry {models}` uses it" in done.output, done.output
    done = runner.invoke(app, ["models", "promote", "v-a", "--registry", str(models)])
    assert f"`nrskg reextract --registry {models}` brings the graph" in done.output, done.output


def test_unknown_version_and_non_model_directory_are_one_line_errors(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["models", "promote", "nope", "--registry", str(tmp_path)])
    assert unknown.exit_code == 1 and "not in the registry" in unknown.output
    not_a_model = runner.invoke(app, ["models", "register", str(tmp_path), "--registry", str(tmp_path / "m")])
    assert not_a_model.exit_code == 1 and "not a model directory" in not_a_model.output


@pytest.mark.parametrize("command", [["list"], ["list", "--json"], ["promote", "v-a"]])
def test_a_missing_registry_folder_is_named_and_not_created(tmp_path: Path, command: list[str]) -> None:
    """`promote` created the mistyped folder, holding only its lock file, and said the version was "not in the
    registry at ... ([])"; `list` called it empty and sent the user to train a model."""
    missing = tmp_path / "mistyped"
    result = runner.invoke(app, ["models", *command, "--registry", str(missing)])
    assert result.exit_code == 1, result.output
    assert f"no model registry at {missing} (no such folder)" in result.output, result.output
    assert "Pass --registry the folder `nrskg models register` wrote to" in result.output, result.output
    assert "--model" not in result.output  # not an option of `nrskg models`
    assert not missing.exists()


def test_register_creates_a_missing_registry_folder(tmp_path: Path) -> None:
    """Registering the first model is how a registry comes to be."""
    new = tmp_path / "new" / "models"
    model = checkpoint(tmp_path / "runs" / "a", "v-a", {"train_f1": 0.9})
    result = runner.invoke(app, ["models", "register", str(model), "--registry", str(new), "--promote"])
    assert result.exit_code == 0, result.output
    assert registry.current(new).version == "v-a"


def test_a_registry_copied_without_its_current_model_names_the_missing_folder(tmp_path: Path) -> None:
    """A model registered from outside the registry folder is stored as `../../runs/a`: a copy of the
    registry alone points nowhere, which `list` marks and `resolve` (what ingest and reextract use) names."""
    models = tmp_path / "team" / "models"
    outside = checkpoint(tmp_path / "runs" / "a", "v-a", {"train_f1": 0.9})
    registry.register(models, outside)
    registry.promote(models, "v-a")
    copy = tmp_path / "shared" / "copies" / "models"  # ../../runs/a from here is shared/runs/a
    copy.mkdir(parents=True)
    (copy / "registry.json").write_bytes((models / "registry.json").read_bytes())

    listed = runner.invoke(app, ["models", "list", "--registry", str(copy)])
    assert listed.exit_code == 0 and "(missing)" in listed.output
    assert "(missing)" not in runner.invoke(app, ["models", "list", "--registry", str(models)]).output
    with pytest.raises(ModelError, match=r"the current model v-a of the registry at .* is not at .*/runs/a"):
        registry.resolve(None, copy)


def test_registering_a_folder_that_is_not_a_model_says_what_register_takes(tmp_path: Path) -> None:
    """The error once told `register`, which has no --model option, to "pass --model a directory"."""
    (tmp_path / "notes").mkdir()
    for folder in (tmp_path / "notes", tmp_path / "no-such-folder"):
        result = runner.invoke(app, ["models", "register", str(folder), "--registry", str(tmp_path / "m")])
        assert result.exit_code == 1 and "--model" not in result.output, result.output
        assert "Register the --out folder of a finished `nrskg train`" in result.output, result.output
    assert "no such folder" in result.output, result.output


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("missing", r"no model registry at .*/models \(no such folder\)\. Pass --registry"),
        ("empty", r"the registry at .*/models holds no model\. .*nrskg models register DIR --promote"),
        ("unpromoted", r"the registry at .*/models has no current model among its 1 versions\. "
                       r"Make one current \(`nrskg models promote VERSION"),
    ],
)  # fmt: skip
def test_a_registry_without_current_model_says_what_to_do(tmp_path: Path, state: str, expected: str) -> None:
    """A trained model is not yet the current one: "train one (`nrskg train`)" sent a user who had trained
    and registered one to train again, and named a mistyped --registry as if it existed."""
    models = tmp_path / "models"
    if state != "missing":
        models.mkdir()
    if state == "unpromoted":
        registry.register(models, checkpoint(tmp_path / "runs" / "a", "v-a", {"train_f1": 0.9}))
    with pytest.raises(ModelError, match=expected):
        registry.resolve(None, models)
