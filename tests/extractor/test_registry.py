import json

import pytest

from extractor import registry
from nrskg.errors import ModelError


def test_empty_registry_has_no_current(tmp_path):
    assert registry.current(tmp_path) is None


def test_register_then_promote(tmp_path):
    registry.register(tmp_path, "v1", tmp_path / "v1", {"val_f1": 0.5})
    assert registry.current(tmp_path) is None  # registering alone does not promote
    registry.promote(tmp_path, "v1")
    entry = registry.current(tmp_path)
    assert entry.version == "v1" and entry.metrics == {"val_f1": 0.5} and entry.promoted_at
    registry.register(tmp_path, "v2", tmp_path / "v2", {"val_f1": 0.7})
    registry.promote(tmp_path, "v2")
    assert registry.current(tmp_path).version == "v2"
    assert set(registry.load(tmp_path).versions) == {"v1", "v2"}


def test_promote_unknown_version_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not in the registry"):
        registry.promote(tmp_path, "nope")


def test_corrupt_registry_names_the_file(tmp_path):
    (tmp_path / "registry.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ModelError, match="registry.json"):
        registry.load(tmp_path)


def test_saved_file_is_plain_json(tmp_path):
    registry.register(tmp_path, "v1", tmp_path / "v1", {"val_f1": 0.25})
    raw = json.loads((tmp_path / "registry.json").read_text(encoding="utf-8"))
    assert raw["current"] is None and raw["versions"]["v1"]["metrics"]["val_f1"] == 0.25
