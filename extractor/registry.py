"""The model registry: a folder of model versions, their metrics, which one is current, and the rules that
change it (register a checkpoint, compare a new version with the current one, promote).

`models/registry.json` is the single source of truth, rewritten atomically, so a crashed promotion never
leaves a half-written registry, and changed under a lock (`.registry.lock`), so two processes registering or
promoting at once never write back what the other changed away. Flows read `resolve()` to pick the model for
ingestion and re-extraction.
The file is shared by a team (readable like any file the user creates, not 0600) and stores each model's path
relative to itself, so the registry folder can be moved, copied or mounted elsewhere with its models.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from extractor import trained_on
from extractor.configuration import NRSOneRelConfig, load_config
from extractor.datasets import Document
from nrskg.errors import ModelError
from nrskg.files import locked, new_file_mode

log = logging.getLogger(__name__)

REGISTRY_FILE = "registry.json"
LOCK_FILE = ".registry.lock"
STAGING = ".staging"  # one folder per train flow run in it, for a checkpoint before its version exists


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
    """Read the registry under `root`; an absent file is an empty registry (`existing` says when the folder
    itself must be there)."""
    path = Path(root) / REGISTRY_FILE
    if not path.exists():
        return Registry()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        versions = {v: ModelEntry(**entry) for v, entry in raw.get("versions", {}).items()}
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, AttributeError) as e:
        raise ModelError(f"{path}: not a model registry: {e}") from e
    if raw.get("current") is not None and raw["current"] not in versions:
        raise ModelError(
            f"{path}: its current model {raw['current']!r} is not among its versions ({sorted(versions)})",
            hint='Set "current" in it to one of them, or to null',
        )
    for entry in versions.values():  # older registries hold absolute paths; both read the same
        entry.path = str((Path(root) / entry.path).resolve())
    return Registry(current=raw.get("current"), versions=versions)


def existing(root: Path) -> Registry:
    """The registry under `root` for a command that reads one but never makes one (`_require_folder`)."""
    _require_folder(root)
    return load(root)


def _require_folder(root: Path) -> None:
    """A registry folder that is not there is a mistyped --registry, named as such (only `register` creates a
    registry)."""
    if not Path(root).is_dir():
        raise _no_registry(Path(root))


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
    os.fchmod(fd, new_file_mode())
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"current": registry.current, "versions": versions}, f, ensure_ascii=False, indent=2)
    os.replace(tmp, root / REGISTRY_FILE)


@contextlib.contextmanager
def _updating(root: Path) -> Iterator[Registry]:
    """The registry, read under the lock and written back when the block ends without an error."""
    with locked(Path(root) / LOCK_FILE):
        registry = load(root)
        yield registry
        save(root, registry)


_MODEL_OPTION = "Pass --model a directory written by `nrskg train`, or omit it to use the registry's model"


def model_config(model_dir: str | Path, hint: str = _MODEL_OPTION) -> NRSOneRelConfig:
    """The config of a checkpoint directory written by `nrskg train`; `hint` says what to pass instead, in
    the terms of the command that was given the directory."""
    from extractor.model import CONFIG_NAME  # imports torch: only where a checkpoint is read

    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        why = f"no {CONFIG_NAME}" if Path(model_dir).is_dir() else "no such folder"
        raise ModelError(f"{model_dir} is not a model directory ({why})", hint=hint)
    return load_config(path)[0]


def register(root: Path, model_dir: Path) -> ModelEntry:
    """Record a checkpoint written by `nrskg train` (where it lies, not yet current) with its metrics;
    `val_f1` only when it was selected on held-out documents: a training F1 is no evidence that one model is
    better than another. Registering a version again updates it. A checkpoint whose training did not finish
    (interrupted: uncalibrated, unscored) is refused."""
    version = model_config(model_dir, "Register the --out folder of a finished `nrskg train`").model_version
    return _record(root, model_dir, version)


def _record(root: Path, model_dir: Path, version: str) -> ModelEntry:
    """`register` for a checkpoint whose config names `version`, read once by the caller (`register_staged`
    reads it before moving the checkpoint)."""
    from extractor.train import METRICS_FILE

    if not version:
        raise ModelError(f"{model_dir}: its config names no model_version")
    metrics_path = Path(model_dir) / METRICS_FILE
    written = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    if written.get("model_version") != version:  # training writes it last, for the weights it calibrated
        raise ModelError(
            f"{model_dir}: the training of model {version} did not finish (no {METRICS_FILE} of that model): "
            "its weights are the best so far, not scored, and its minimum confidence is not calibrated",
            hint="Train it again into an empty folder and register that",
        )
    metrics: dict[str, float] = {}
    if written.get("selected_on") == "validation":
        metrics["val_f1"] = float(written["best_val_f1"])
    if "train_f1" in written:
        metrics["train_f1"] = float(written["train_f1"])
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entry = ModelEntry(version, str(Path(model_dir).resolve()), metrics, now)
    with _updating(root) as registry:
        registry.versions[version] = entry
    return entry


def staging(root: Path) -> Path:
    """A new empty folder in `root/.staging` for the checkpoint of one training run (`register_staged` moves
    it): each run has its own, so runs training at once never delete or mix each other's files. What other
    runs left there stays, since one may still be training into it; a warning names it."""
    parent = Path(root) / STAGING
    parent.mkdir(parents=True, exist_ok=True)
    left = sorted(path.name for path in parent.iterdir())
    if left:
        log.warning("%s holds what other training runs wrote, still training or stopped (delete it when no "
                    "run is training): %s", parent, ", ".join(left))  # fmt: skip
    folder = parent / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()  # exclusive: never a folder another run was given
    return folder


def register_staged(root: Path, staged: Path) -> ModelEntry:
    """Move the checkpoint in `staged` (from `staging(root)`) to `root/<version>` and register it there. The
    rename is atomic and fails on a version folder that holds files, so a version never takes another's."""
    version = model_config(staged).model_version
    folder = Path(root) / version
    try:
        Path(staged).rename(folder)
    except OSError as e:  # ENOTEMPTY or EEXIST: that version's folder is there already
        if not folder.is_dir():
            raise
        message = f"model {version} is in {folder} already: another run trained the same weights"
        raise ModelError(message) from e
    return _record(root, folder, version)


def promote(root: Path, version: str) -> None:
    """Make `version` the current model of the registry at `root`, which must exist (`_require_folder`)."""
    _require_folder(root)  # before the lock, which would create the folder
    with _updating(root) as registry:
        if version not in registry.versions:
            raise ModelError(
                f"cannot promote {version!r}: not in the registry at {root} ({sorted(registry.versions)})",
                hint="Promote one of them, or register it first (`nrskg models register DIR`)",
            )
        registry.current = version
        registry.versions[version].promoted_at = datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Comparison:
    """A candidate against the current model on the held-out sentences neither was trained on."""

    current: ModelEntry | None
    sentences: int  # held-out sentences both models were scored on
    left_out: int  # held-out sentences the current model was trained on, not scored
    candidate_f1: float | None
    current_f1: float | None
    promoted: bool
    not_compared: str = ""  # why the current model was kept without a comparison ("" where there was one)


def promote_if_better(
    root: Path, candidate: ModelEntry, held_out: list[Document], min_improvement: float = 0.0
) -> Comparison:
    """Make `candidate` current if its F1 beats the current model's by more than `min_improvement` on the
    sentences of the `held_out` documents (the candidate's validation split) that the current model was not
    trained on: when the data grew, the split by document moves, and a model scored on its own training
    sentences would win unfairly. Without such sentences, or without a validation F1, only a first model is
    promoted; so too where the two were trained with other relation renamings: the held-out triples bear the
    candidate's names.

    The candidate's F1 is the one training measured where no sentence is left out; otherwise it is scored too.
    """
    from extractor.evaluate import evaluate  # runs a model: torch only where a comparison is made

    now = current(root)
    examples = [example for doc in held_out for example in doc.examples]
    if now is None or not examples or "val_f1" not in candidate.metrics:
        if now is None:
            promote(root, candidate.version)
        return Comparison(now, 0, 0, candidate.metrics.get("val_f1"), None, now is None)
    if not Path(now.path).is_dir():  # moved or deleted since its promotion: no comparison, and no record
        raise ModelError(
            f"the current model {now.version} is not at {now.path} any more, so {candidate.version} cannot "
            "be compared with it",
            hint="Copy its folder back, or make the new one current "
            f"(`nrskg models promote {candidate.version}`)",
        )
    theirs, ours = _renamings(now.path), _renamings(candidate.path)
    if theirs != ours:
        why = f"{now.version} was trained with --relation-aliases {theirs}, the new one with {ours}"
        log.warning("model %s: no fair comparison, kept as current", why)
        return Comparison(now, 0, 0, candidate.metrics["val_f1"], None, False, why)
    seen = trained_on.read(now.path)
    if seen is None:
        log.warning("model %s records no training sentences: compared on all %d held-out sentences, some of "
                    "which it may have been trained on", now.version, len(examples))  # fmt: skip
    fair = examples if seen is None else trained_on.unseen(held_out, seen)
    left_out = len(examples) - len(fair)
    if not fair:
        log.warning("model %s was trained on all %d held-out sentences: no fair comparison, kept as current",
                    now.version, len(examples))  # fmt: skip
        why = f"{now.version} was trained on all of them"
        return Comparison(now, 0, left_out, candidate.metrics["val_f1"], None, False, why)
    candidate_f1 = evaluate(candidate.path, fair).micro.f1 if left_out else candidate.metrics["val_f1"]
    current_f1 = evaluate(now.path, fair).micro.f1
    promoted = candidate_f1 > current_f1 + min_improvement
    if promoted:
        promote(root, candidate.version)
    return Comparison(now, len(fair), left_out, candidate_f1, current_f1, promoted)


def _renamings(model_dir: str) -> str:
    """The `--relation-aliases` a checkpoint was trained with, as written on the command line ("none")."""
    from extractor.model import CONFIG_NAME

    trained = load_config(Path(model_dir) / CONFIG_NAME)[1]
    aliases = trained.relation_aliases if trained else {}
    return ",".join(f"{old}={new}" for old, new in sorted(aliases.items())) or "none"


def current(root: Path) -> ModelEntry | None:
    """The current model, or None when nothing was promoted yet."""
    registry = load(root)
    return registry.versions[registry.current] if registry.current else None


def resolve(model: str | None, root: Path) -> ModelEntry:
    """`model` (a checkpoint directory) when given, else the current version of the registry at `root`."""
    if model:
        return ModelEntry(version=model_config(model).model_version, path=str(Path(model).resolve()))
    entry = current(root)
    if entry is None:
        raise _no_current_model(Path(root), len(load(root).versions))
    if not Path(entry.path).is_dir():  # a registry copied without a model registered from outside it
        raise ModelError(
            f"the current model {entry.version} of the registry at {root} is not at {entry.path}",
            hint="Copy its folder there, register it again where it is (`nrskg models register DIR "
            "--promote`), or pass --model DIR",
        )
    return entry


def _no_current_model(root: Path, versions: int) -> ModelError:
    """Why the registry at `root` names no model to use, and the step that is missing: a mistyped folder, a
    model never registered, or registered versions none of which was promoted."""
    if not root.is_dir():
        return _no_registry(root, ", or --model DIR")
    if not versions:
        return ModelError(
            f"the registry at {root} holds no model",
            hint="Train one (`nrskg train --out DIR`), then `nrskg models register DIR --promote`; "
            "or pass --model DIR",
        )
    return ModelError(
        f"the registry at {root} has no current model among its {versions} versions",
        hint="Make one current (`nrskg models promote VERSION`; `nrskg models list` shows them), "
        "or pass --model DIR",
    )


def _no_registry(root: Path, instead: str = "") -> ModelError:
    """No registry folder at `root`: a mistyped --registry, or no model registered yet; `instead` names
    another option of the command that was given it."""
    return ModelError(
        f"no model registry at {root} (no such folder)",
        hint=f"Pass --registry the folder `nrskg models register` wrote to{instead}; with no model "
        "registered yet, train one (`nrskg train --out DIR`): `nrskg models register DIR --promote` makes "
        "the registry",
    )
