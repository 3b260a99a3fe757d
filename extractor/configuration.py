"""Typed configuration of the NRS-OneRel model and of its training run (fields with defaults, no logic).

Both round-trip through JSON: a model's `config.json` holds the model config with the training config
it was trained under, so a checkpoint says how it was made and how its inputs must be windowed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from extractor import tagging
from extractor.encoders import TINY
from nrskg.errors import ModelError

TokenizationMode = Literal["char", "subword"]
NSScope = Literal["sentence", "batch"]
LossName = Literal["mcce", "softmax", "bce", "focal"]  # extractor.losses
LOSSES: tuple[str, ...] = get_args(LossName)


def setting(default: Any, help: str) -> Any:
    """A field a person may set: `nrskg train --NAME VALUE`, the train flow's `settings`, a study's arms.

    Fields without it (the schema a training run fills in, results) are not options anywhere.
    """
    if isinstance(default, dict):
        return field(default_factory=dict, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class NRSOneRelConfig:
    """What a trained model is: its encoder, relation schema and head sizes.

    `relations[k]` is column block k of R; `head_types[k]`/`tail_types[k]` are the types its arguments carry
    (the relation schema decides an entity's type, since OneRel tags spans, not types).
    `max_tokens` counts the two special tokens; long inputs are cut into windows of `window_chars` characters.
    """

    encoder: str = ""  # what the user asked for: a local path, a hub id or "tiny"
    relations: list[str] = field(default_factory=list)
    head_types: list[str] = field(default_factory=list)
    tail_types: list[str] = field(default_factory=list)
    d_e: int = setting(256, "Width of the pair representation ReLU(W_s h_i + W_o h_j + b).")
    dropout: float = setting(0.1, "Dropout on the encoder's token vectors, before the pair projections.")
    pair_dropout: float = setting(0.0, "Dropout on the pair features after the ReLU (OneRel: 0.1).")
    distance_buckets: int = setting(
        32,
        "Buckets of the signed token distance j - i whose learnt vector joins W_s h_i + W_o h_j + b "
        "(0: OneRel's formula, no distance).",
    )
    between_context: bool = setting(
        True,
        "Add W_c times the mean of the token vectors strictly between i and j to the pair features: what "
        "separates two mentions (a clause, a full stop, a list) says whether they relate, most of all when "
        "they are far apart.",
    )
    mention_column: bool = setting(
        True,
        "Train one more column of the relation matrix on every annotated mention, paired with itself, beside "
        "the relations (never extracted): entities in no relation teach mention boundaries too.",
    )
    loss: LossName = setting(
        "mcce", f"Training loss, one of {', '.join(get_args(LossName))} (extractor/losses.py)."
    )
    max_tokens: int = setting(512, "Longest input in tokens, the two special tokens included.")
    tokenization: TokenizationMode = setting(
        "char", "'char' (Chinese, one token per character) or 'subword'."
    )
    window_chars: int = setting(128, "Characters per window over long sentences (training and extraction).")
    window_stride: int = setting(96, "Characters between window starts (default: 3/4 of --window-chars).")
    positive_weight: float = setting(
        1.0, "Loss weight of marked cells (softmax and bce losses; 1: plain mean)."
    )
    # Decoding keeps at most this many non-empty cells per window, the most confident: a trained model marks a
    # few dozen, an undertrained one thousands, whose triples (millions) stall evaluation and flood the graph.
    max_cells_per_window: int = 512
    # Extraction keeps triples at or above this confidence by default: training sets it to the lowest
    # threshold whose validation precision reaches TrainConfig.target_precision (0: every decoded triple).
    min_confidence: float = 0.0
    model_version: str = ""

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def num_columns(self) -> int:
        """Columns of the relation matrix: the K relations, then the mention column when trained with one."""
        return self.num_relations + int(self.mention_column)

    @property
    def num_labels(self) -> int:
        """Logits per cell and relation: 3 marks, or 8 classes (sets of marks) for the softmax loss."""
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}: use one of {', '.join(LOSSES)}")
        return tagging.NUM_LABELS if self.loss == "softmax" else len(tagging.MARKS)


@dataclass
class TrainConfig:
    """How a model is trained. Learning rates are per parameter group: a pretrained encoder wants a small one.

    `model` holds the model's own settings (head sizes, loss, windows, tokenization); `train` fills in the
    encoder and the relation schema of the data, so one object fully describes a run.
    """

    model: NRSOneRelConfig = field(default_factory=NRSOneRelConfig)
    ns: int = setting(
        10, "Relation types scored per training sentence: its own plus random negatives (all K: NS >= K)."
    )
    ns_scope: NSScope = setting("sentence", "Negatives drawn per 'sentence' or shared by the 'batch'.")
    lr: float = setting(3e-3, "Learning rate of the head (W_s, W_o, R).")
    encoder_lr: float = setting(3e-4, "Learning rate of the encoder.")
    weight_decay: float = setting(0.01, "AdamW weight decay of the weight matrices.")
    freeze_embeddings: bool = setting(
        False,
        "Keep the encoder's token embeddings as pretrained: otherwise only the characters of the training "
        "documents move, away from those only new documents have.",
    )
    batch_size: int = setting(16, "Training windows per step.")
    empty_windows: float = setting(
        0.1,
        "Share of the training windows without a triple that each epoch includes (a fresh draw each epoch).",
    )
    mention_replace: float = setting(
        0.0,
        "Probability that a training mention is replaced, afresh each epoch, by another mention of its type "
        "from the training windows (overlapping mentions together, by a unit of the same shape; 0: never).",
    )
    mask_tokens: float = setting(
        0.0,
        "Probability that a training character is hidden behind the encoder's [MASK] token, afresh each "
        "step, so that context, not the string alone, carries the label (0: never).",
    )
    adversarial: float = setting(
        0.0,
        "FGM: each step also trains on the token embeddings moved this far (L2 norm over the embedding "
        "matrix) along the loss gradient, a second forward and backward pass (0: off).",
    )
    extra_ratio: float = setting(
        1.0,
        "Windows drawn from the --extra corpora each epoch per window of the data set (a fresh draw each "
        "epoch, at most all of them).",
    )
    relation_aliases: dict[str, str] = setting(
        {},
        "Relation types renamed before training: OLD=NEW in every corpus, FORMAT:OLD=NEW only in corpora of "
        "that format (NEW empty: drop the type).",
    )
    epochs: int = setting(20, "Passes over the training windows.")
    max_steps: int = setting(0, "Stop after this many steps (0: no cap beyond --epochs).")
    warmup_ratio: float = setting(0.1, "Share of the steps over which the learning rates warm up.")
    grad_clip: float = setting(1.0, "Gradient norm clipping.")
    ema_decay: float = setting(
        0.99, "Evaluate and save a moving average of the weights with this decay per step (0: the weights)."
    )
    patience: int = setting(10, "Evaluations without a better F1 before stopping, counted once F1 > 0.")
    max_minutes: float = setting(
        0.0,
        "Wall-time budget: stop at the last evaluation after which another evaluation interval and the final "
        "scoring would end past this many minutes from the start (0: none). One evaluation always runs.",
    )
    eval_every: int = setting(0, "Steps between evaluations (0: once per epoch).")
    seed: int = setting(13, "Seed of the initialisation, sampling and batch order.")
    split_seed: int | None = setting(0, "Seed of the validation split (none: the training seed).")
    val_fraction: float = setting(0.15, "Share of the documents held out for validation (0: none).")
    train_eval_limit: int = setting(500, "Training sentences scored for the training F1 (0: all).")
    target_precision: float = setting(0.9, "Validation precision the default minimum confidence must reach.")
    curves: bool = setting(False, "Also score the training sample at each evaluation (fitting curves).")
    device: str = setting("auto", "auto (CUDA when available), cpu, cuda or cuda:N.")
    amp: bool = setting(
        True,
        "Mixed precision in training: bf16 on CUDA (fp16 where unsupported) and on CPUs with native bf16.",
    )
    keep_freed_memory: bool = setting(
        True,
        "CPU training: keep freed blocks in the process for reuse (about 0.9x the time, 3 GB more memory).",
    )


def with_settings(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of `config` with `changes`, each a field of TrainConfig or of its model config (d_e, loss, ...).

    Setting `window_chars` alone also sets the stride, so that a quarter of each window overlaps the next.
    """
    model_fields = {f.name for f in fields(NRSOneRelConfig)}
    unknown = sorted(set(changes) - model_fields - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise TypeError(f"not training or model settings: {unknown}")
    if "window_chars" in changes and "window_stride" not in changes:
        changes["window_stride"] = changes["window_chars"] * 3 // 4
    model = replace(config.model, **{k: v for k, v in changes.items() if k in model_fields})
    return replace(config, model=model, **{k: v for k, v in changes.items() if k not in model_fields})


# What learns with the random `tiny` encoder (no pretraining to protect): a large head learning rate, a
# moderate encoder one, no dropout, every window each epoch, the trained weights themselves (the task is to
# fit, not to generalise). It overfits the project's 105-sentence sample to train F1 >= 0.95 in about 50
# epochs.
TINY_TRAIN = TrainConfig(
    model=NRSOneRelConfig(d_e=128, dropout=0.0),
    lr=3e-2, encoder_lr=2e-3, batch_size=8, epochs=50, warmup_ratio=0.05, patience=100, empty_windows=1.0,
    ema_decay=0.0,
)  # fmt: skip


def defaults_for(encoder: str) -> TrainConfig:
    """The settings a run starts from: TINY_TRAIN for the random tiny encoder, TrainConfig() for any other."""
    return TINY_TRAIN if encoder == TINY else TrainConfig()


@dataclass(frozen=True)
class BatchSettings:
    """How inference batches adapt to the device (`extractor.batching.auto_budget`).

    NRS-OneRel's memory is dominated by the B x L x L pair tensor, so budgets count token pairs.
    """

    max_batch_size: int = 128
    cpu_pairs: int = 16 * 128 * 128  # CPU is bound by compute, not memory: batches of a few seconds
    memory_fraction: float = (
        0.6  # share of free accelerator memory a batch may use (weights, allocator slack)
    )
    min_pairs: int = 256 * 256  # never less than one window of the longest length accepted
    max_pairs: int = 512 * 256 * 256
    # CPU: the head scores blocks of rows of about this many token pairs, so that their pair features and
    # logits stay in cache (results_speed.md)
    cpu_block_pairs: int = 16384


SEE_OPTIONS = "`nrskg train --help` lists the settings"


def settable() -> dict[str, Any]:
    """Every setting a person may change, by name: the fields of TrainConfig and its model config made
    with `setting` (dataclass `Field`s, their help in `metadata["help"]`)."""
    return {f.name: f for cls in (TrainConfig, NRSOneRelConfig) for f in fields(cls) if "help" in f.metadata}


def setting_types() -> dict[str, Any]:
    """The type of each setting (`settable`), as declared."""
    hints = {**get_type_hints(NRSOneRelConfig), **get_type_hints(TrainConfig)}
    return {name: hints[name] for name in settable()}


def parse_settings(pairs: list[str] | dict[str, Any]) -> dict[str, Any]:
    """Settings by name, checked against their declared types: `key=value` strings, or a mapping (a flow's
    parameters) whose values must read as their type the same way.

    Text takes the field's type: numbers, `true`/`false`, `none` for an optional one, and for a mapping
    `OLD=NEW;OLD2=NEW2`.
    """
    items = pairs.items() if isinstance(pairs, dict) else [_split(pair) for pair in pairs]
    types = setting_types()
    settings: dict[str, Any] = {}
    for key, value in items:
        key = key.strip().replace("-", "_")
        if key not in types:
            raise ModelError(f"{key!r} is not a training or model setting", hint=SEE_OPTIONS)
        if isinstance(value, dict) and get_origin(types[key]) is dict:
            settings[key] = {str(k): str(v) for k, v in value.items()}
        else:
            settings[key] = _typed(key, str(value).strip(), types[key])
    return settings


def _split(pair: str) -> tuple[str, str]:
    key, sep, value = pair.partition("=")
    if not sep:
        raise ModelError(f"{pair!r}: expected KEY=VALUE", hint=SEE_OPTIONS)
    return key, value


def _typed(key: str, text: str, kind: Any) -> Any:
    """`text` as a value of `kind`: int, float, bool, str, a Literal, an optional one, or a str mapping."""
    if get_origin(kind) is dict:
        return dict(item.partition("=")[::2] for item in text.split(";") if item)
    if get_origin(kind) in (Union, UnionType):  # `int | None`: "none" is None, else the other type
        if text.lower() == "none":
            return None
        kind = next(a for a in get_args(kind) if a is not type(None))
    if get_origin(kind) is Literal:
        if text not in get_args(kind):
            raise ModelError(f"{key}={text}: use one of {', '.join(get_args(kind))}")
        return text
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ModelError(f"{key}={text}: use true or false")
        return text.lower() == "true"
    try:
        return kind(text)
    except ValueError as e:
        raise ModelError(f"{key}={text}: expected {kind.__name__}") from e


def to_json(config: NRSOneRelConfig | TrainConfig) -> dict[str, Any]:
    return asdict(config)


def from_json(cls: type[NRSOneRelConfig] | type[TrainConfig], data: dict[str, Any]):
    """Build `cls` from a dict, ignoring keys it does not know, so older checkpoints still load."""
    known = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in known}
    if cls is TrainConfig and isinstance(values.get("model"), dict):
        values["model"] = from_json(NRSOneRelConfig, values["model"])
    return cls(**values)


def save_config(path: Path, model: NRSOneRelConfig, train: TrainConfig | None = None) -> None:
    """The model config at the top level; the train config, less its model part (above), in "train"."""
    data = {"model_type": "nrs-onerel", **to_json(model)}
    if train is not None:
        data["train"] = {k: v for k, v in to_json(train).items() if k != "model"}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load_config(path: Path) -> tuple[NRSOneRelConfig, TrainConfig | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    train = data.pop("train", None)
    data.setdefault("loss", "softmax")  # checkpoints written before the loss option all used the softmax
    data.setdefault("distance_buckets", 0)  # nor did those written before it score distances
    data.setdefault("mention_column", False)  # nor have a mention column
    data.setdefault("between_context", False)  # nor add the tokens between a pair
    model = from_json(NRSOneRelConfig, data)
    return model, (replace(from_json(TrainConfig, train), model=model) if train is not None else None)
