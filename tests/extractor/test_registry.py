import json
import logging
import os
from pathlib import Path

import pytest

from extractor import registry, trained_on
from extractor.configuration import TrainConfig, load_config, save_config
from extractor.datasets import Document
from extractor.schema import Example
from nrskg.errors import ModelError
from tests.conftest import checkpoint, untrained_model

VALIDATED = {"selected_on": "validation", "best_val_f1": 0.5, "train_f1": 0.9}


def test_empty_registry_has_no_current(tmp_path):
    assert registry.current(tmp_path) is None


def test_register_then_promote(tmp_path):
    registry.register(tmp_path, checkpoint(tmp_path / "v1", "v1", VALIDATED))
    assert registry.current(tmp_path) is None  # registering alone does not promote
    registry.promote(tmp_path, "v1")
    entry = registry.current(tmp_path)
    assert entry.version == "v1" and entry.metrics == {"val_f1": 0.5, "train_f1": 0.9} and entry.promoted_at
    registry.register(tmp_path, checkpoint(tmp_path / "v2", "v2", VALIDATED))
    registry.promote(tmp_path, "v2")
    assert registry.current(tmp_path).version == "v2"
    assert set(registry.load(tmp_path).versions) == {"v1", "v2"}


def test_a_staged_checkpoint_moves_to_its_version(tmp_path):
    staged = checkpoint(registry.staging(tmp_path), "v1", {"selected_on": "training sample", "train_f1": 0.9})
    entry = registry.register_staged(tmp_path, staged)
    assert entry.path == str((tmp_path / "v1").resolve()) and not staged.exists()
    assert entry.metrics == {"train_f1": 0.9}  # a training F1 is never recorded as a validation F1


def test_a_stopped_run_s_staging_files_are_named_and_left_alone(tmp_path, caplog):
    """A killed run's checkpoint, in the old layout (`.staging` itself) and the new (a folder in it): the next
    run trains beside it, since the files may be another run's that is still training."""
    old = checkpoint(tmp_path / registry.STAGING, "old", VALIDATED)
    stopped = registry.staging(tmp_path)
    with caplog.at_level(logging.WARNING, logger="extractor.registry"):
        staged = checkpoint(registry.staging(tmp_path), "v1", VALIDATED)
    assert staged.parent == old and stopped.name in caplog.text and "config.json" in caplog.text
    assert registry.register_staged(tmp_path, staged).version == "v1"
    assert (old / "config.json").is_file() and stopped.is_dir()


def test_a_version_registered_by_another_run_is_never_replaced(tmp_path):
    """Two runs that trained the same weights in the same second name the same version: the second one's
    rename fails instead of deleting the folder the first one registered."""
    first, second = registry.staging(tmp_path), registry.staging(tmp_path)
    checkpoint(first, "v1", VALIDATED)
    checkpoint(second, "v1", {"selected_on": "training sample", "train_f1": 0.1})
    registry.register_staged(tmp_path, first)
    with pytest.raises(ModelError, match="model v1 is in .* already: another run trained the same weights"):
        registry.register_staged(tmp_path, second)
    assert json.loads((tmp_path / "v1" / "metrics.json").read_text("utf-8"))["best_val_f1"] == 0.5
    assert registry.load(tmp_path).versions["v1"].metrics == {"val_f1": 0.5, "train_f1": 0.9}


def test_only_a_first_model_is_promoted_without_a_validation_f1(tmp_path):
    first = registry.register(tmp_path, checkpoint(tmp_path / "v1", "v1", {"train_f1": 0.9}))
    assert registry.promote_if_better(tmp_path, first, []).promoted
    second = registry.register(tmp_path, checkpoint(tmp_path / "v2", "v2", VALIDATED))
    compared = registry.promote_if_better(tmp_path, second, [])  # nothing held out
    assert (compared.current.version, compared.current_f1, compared.promoted) == ("v1", None, False)
    assert registry.current(tmp_path).version == "v1"


def test_the_current_model_is_compared_only_on_held_out_sentences_it_was_not_trained_on(tmp_path, caplog):
    """When the data grows, the new model's validation documents can be the current model's training ones."""
    texts = ["二甲双胍可用于治疗2型糖尿病。", "胰岛素用于1型糖尿病。", "糖尿病患者应控制血糖。"]
    held_out = [Document(str(n), "", [Example(text)]) for n, text in enumerate(texts)]
    root = tmp_path / "models"

    def registered(version: str) -> registry.ModelEntry:
        folder = untrained_model(tmp_path / version, version=version)
        (folder / "metrics.json").write_text(json.dumps({"model_version": version, **VALIDATED}), "utf-8")
        return registry.register(root, folder)

    current, candidate = registered("v1"), registered("v2")
    registry.promote(root, "v1")
    trained_on.write(Path(current.path), [" ".join(texts[0]), "另一句。"])  # blind to whitespace
    compared = registry.promote_if_better(root, candidate, held_out)
    assert (compared.sentences, compared.left_out) == (2, 1)
    # Both scored again on those two (untrained models: F1 0), not the candidate's 0.5 on all three.
    assert compared.candidate_f1 == compared.current_f1 == 0.0 and not compared.promoted

    trained_on.write(Path(current.path), texts)  # nothing left to compare on
    compared = registry.promote_if_better(root, candidate, held_out, min_improvement=-1.0)
    assert (compared.sentences, compared.left_out, compared.current_f1) == (0, 3, None)
    assert not compared.promoted
    assert registry.current(root).version == "v1"

    (Path(current.path) / trained_on.FILE).unlink()  # a checkpoint that records nothing: all, with a warning
    with caplog.at_level(logging.WARNING, logger="extractor.registry"):
        compared = registry.promote_if_better(root, candidate, held_out, min_improvement=-1.0)
    assert (compared.sentences, compared.left_out, compared.candidate_f1) == (3, 0, 0.5)
    assert compared.promoted and registry.current(root).version == "v2"
    assert "v1 records no training sentences" in caplog.text


def test_a_current_model_whose_folder_is_gone_is_named_before_any_comparison(tmp_path, caplog):
    """Not a warning that it records no training sentences, then an error about a model directory."""
    registry.register(tmp_path, checkpoint(tmp_path / "v1", "v1", VALIDATED))
    registry.promote(tmp_path, "v1")
    candidate = registry.register(tmp_path, checkpoint(tmp_path / "v2", "v2", VALIDATED))
    (tmp_path / "v1" / "config.json").unlink()
    (tmp_path / "v1" / "metrics.json").unlink()
    (tmp_path / "v1").rmdir()
    held_out = [Document("d", "", [Example("胰岛素用于1型糖尿病。")])]
    with pytest.raises(ModelError) as raised:
        registry.promote_if_better(tmp_path, candidate, held_out)
    assert str(raised.value) == (
        f"the current model v1 is not at {(tmp_path / 'v1').resolve()} any more, so v2 cannot be compared "
        "with it. Copy its folder back, or make the new one current (`nrskg models promote v2`)"
    )
    assert not caplog.records and registry.current(tmp_path).version == "v1"


def test_models_trained_with_other_relation_renamings_are_not_compared(tmp_path, caplog):
    """The held-out triples bear the new model's relation names: the current model, predicting its own,
    would score about 0 and lose whatever the new one is worth."""
    for version, aliases in (("v1", {}), ("v2", {"SideEff-Drug": "Side_Effect"})):
        folder = untrained_model(tmp_path / version, version=version)
        (folder / "metrics.json").write_text(json.dumps({"model_version": version, **VALIDATED}), "utf-8")
        save_config(
            folder / "config.json",
            load_config(folder / "config.json")[0],
            TrainConfig(relation_aliases=aliases),
        )
        registry.register(tmp_path, folder)
    registry.promote(tmp_path, "v1")
    held_out = [Document("d", "", [Example("二甲双胍常见胃肠道反应。")])]
    with caplog.at_level(logging.WARNING, logger="extractor.registry"):
        compared = registry.promote_if_better(tmp_path, registry.load(tmp_path).versions["v2"], held_out)
    assert (compared.promoted, compared.current_f1, compared.sentences) == (False, None, 0)
    assert (
        compared.not_compared
        == "v1 was trained with --relation-aliases none, the new one with SideEff-Drug=Side_Effect"
    )
    assert compared.not_compared in caplog.text and registry.current(tmp_path).version == "v1"


def test_a_checkpoint_whose_training_did_not_finish_is_refused(tmp_path):
    """Ctrl-C leaves the best weights so far, uncalibrated (min confidence 0) and unscored: no metrics.json,
    or, in a folder trained into before, the metrics of the earlier model."""
    interrupted = checkpoint(tmp_path / "interrupted", "v2", VALIDATED)
    (interrupted / "metrics.json").unlink()
    with pytest.raises(ModelError, match="did not finish"):
        registry.register(tmp_path / "models", interrupted)
    over_older = checkpoint(tmp_path / "over-older", "v2", VALIDATED)
    (over_older / "metrics.json").write_text(
        json.dumps({"model_version": "v1", **VALIDATED}), encoding="utf-8"
    )
    with pytest.raises(ModelError, match="did not finish"):
        registry.register(tmp_path / "models", over_older)
    assert registry.load(tmp_path / "models").versions == {}


def test_promote_unknown_version_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not in the registry"):
        registry.promote(tmp_path, "nope")


@pytest.mark.parametrize(
    "content",
    [
        b"{broken",
        b"[]",  # JSON, not a registry
        b'{"current": "v1", "versions": []}',
        b"\xff\xfe{",  # not UTF-8
        b'{"current": "v9", "versions": {}}',  # a current version it does not hold
    ],
)
def test_corrupt_registry_names_the_file(tmp_path, content):
    (tmp_path / "registry.json").write_bytes(content)
    with pytest.raises(ModelError, match="registry.json"):
        registry.load(tmp_path)


def test_saved_file_is_plain_json(tmp_path):
    registry.register(tmp_path, checkpoint(tmp_path / "v1", "v1", VALIDATED))
    raw = json.loads((tmp_path / "registry.json").read_text(encoding="utf-8"))
    assert raw["current"] is None and raw["versions"]["v1"]["metrics"]["val_f1"] == 0.5


def test_paths_are_stored_relative_to_the_registry_and_read_back_absolute(tmp_path):
    root = tmp_path / "team" / "models"
    registry.register(root, checkpoint(root / "v1", "v1", {}))
    registry.register(root, checkpoint(tmp_path / "elsewhere" / "v0", "v0", {}))
    raw = json.loads((root / "registry.json").read_text(encoding="utf-8"))
    assert raw["versions"]["v1"]["path"] == "v1"
    assert raw["versions"]["v0"]["path"] == "../../elsewhere/v0"
    assert registry.load(root).versions["v1"].path == str((root / "v1").resolve())

    moved = tmp_path / "moved"
    (tmp_path / "team").rename(moved)  # the registry folder travels with its models
    registry.promote(moved / "models", "v1")
    assert registry.current(moved / "models").path == str((moved / "models" / "v1").resolve())


def test_registry_file_is_readable_by_the_team(tmp_path):
    previous = os.umask(0o022)  # the usual umask; mkstemp alone would still make the file 0600
    try:
        registry.register(tmp_path, checkpoint(tmp_path / "v1", "v1", {}))
        registry.promote(tmp_path, "v1")
    finally:
        os.umask(previous)
    assert (tmp_path / "registry.json").stat().st_mode & 0o777 == 0o644


def test_absolute_paths_of_older_registries_still_load(tmp_path):
    payload = {"current": "v1", "versions": {"v1": {"version": "v1", "path": str(tmp_path / "abs" / "v1")}}}
    (tmp_path / "registry.json").write_text(json.dumps(payload), encoding="utf-8")
    assert registry.current(tmp_path).path == str((tmp_path / "abs" / "v1").resolve())


@pytest.mark.parametrize("content", [b"\xff\xfe", b"not a digest\n"])
def test_a_damaged_record_of_training_sentences_names_its_file(tmp_path, content):
    (tmp_path / trained_on.FILE).write_bytes(content)
    with pytest.raises(ModelError, match=trained_on.FILE) as raised:
        trained_on.read(tmp_path)
    assert raised.value.hint == "Copy the model directory again"  # what to do, as every error says


def test_registering_at_once_loses_no_version(tmp_path):
    """Each writer reads the registry, adds its version and writes it back: without the lock, one writes back
    a registry that lacks what another just added. Threads stand for processes: each takes the lock through
    its own open file, as a process does."""
    from concurrent.futures import ThreadPoolExecutor

    folders = [checkpoint(tmp_path / "models" / f"v{i}", f"v{i}", VALIDATED) for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda folder: registry.register(tmp_path, folder), folders))
    assert set(registry.load(tmp_path).versions) == {f"v{i}" for i in range(64)}
