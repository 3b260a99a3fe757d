"""A small model registry: a folder of model versions, their metrics, and which one is current.

`models/registry.json` is the single source of truth, rewritten atomically, so a crashed promotion never
leaves a half-written registry. Flows read `current()` to pick the model for ingestion and re-extraction.
The file is shared by a team (readable like any file the user creates, not 0600) and stores each model's path
relative to itself, so the registry folder can be moved, copied or mounted elsewhere with its models.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nrskg.errors import ModelError

REGISTRY_FILE = "registry.json"


@dataclass
class ModelEntry:
    """One registered version; `path` is absolute in memory and relative to the registry folder on disk."""

    version: str
    path: str
    metrics: dict[str, float] = field(default_factory=dict)
    registered_at: str = ""
    promoted_at: str | None = None


@dataclass
class Registry:
    current: str | None = None
    versions: dict[str, ModelEntry] = field(default_factory=dict)


def load(root: Path) -> Registry:
    """Read the registry under `root`; an absent file is an empty registry."""
    path = Path(root) / REGISTRY_FILE
    if not path.exists():
        return Registry()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        versions = {v: ModelEntry(**entry) for v, entry in raw.get("versions", {}).items()}
    except (json.JSONDecodeError, TypeError) as e:
        raise ModelError(f"{path}: not a model registry: {e}") from e
    for entry in versions.values():  # older registries hold absolute paths; both read the same
        entry.path = str((Path(root) / entry.path).resolve())
    return Registry(current=raw.get("current"), versions=versions)


def save(root: Path, registry: Registry) -> None:
    """Write atomically (temp file + rename) so readers never see a partial registry."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    versions = {
        v: {**asdict(e), "path": os.path.relpath(Path(e.path).resolve(), root.resolve())}
        for v, e in registry.versions.items()
    }
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".registry.", suffix=".json")
    # mkstemp creates the file 0600; the team reads the registry, so give it the mode of any new file.
    os.fchmod(fd, 0o666 & ~_umask())
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"current": registry.current, "versions": versions}, f, ensure_ascii=False, indent=2)
    os.replace(tmp, root / REGISTRY_FILE)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def register(root: Path, version: str, model_dir: Path, metrics: dict[str, float]) -> ModelEntry:
    """Record a trained model version (not yet current). Re-registering a version updates its metrics."""
    registry = load(root)
    entry = ModelEntry(
        version=version,
        path=str(Path(model_dir).resolve()),
        metrics=dict(metrics),
        registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    registry.versions[version] = entry
    save(root, registry)
    return entry


def promote(root: Path, version: str) -> None:
    """Make `version` the current model."""
    registry = load(root)
    if version not in registry.versions:
        raise ModelError(
            f"cannot promote {version!r}: not in the registry at {root} ({sorted(registry.versions)})"
        )
    registry.current = version
    registry.versions[version].promoted_at = datetime.now(UTC).isoformat(timespec="seconds")
    save(root, registry)


def current(root: Path) -> ModelEntry | None:
    """The current model, or None when nothing was promoted yet."""
    registry = load(root)
    return registry.versions[registry.current] if registry.current else None
