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

TokenizationMode = Literal["char", "subword"]
NSScope = Literal["sentence", "batch"]
LossName = Literal["mcce", "softmax", "bce", "focal"]  # extractor.losses
LOSSES: tuple[str, ...] = get_args(LossName)


@dataclass
class NRSOneRelConfig:
    """What a trained model is: its encoder, relation schema and head sizes.

    `relations[k]` is column block k of R; `head_types[k]`/`tail_types[k]` are the types its arguments carry
    (the relation schema decides an entity's type, since OneRel tags spans, not types).
    `max_tokens` counts the two special tokens; long inputs are cut into windows of `window_chars` characters.
    """

    encoder: str = (
        ""  # what the user asked for: a local path, a hub id or "tiny" (the weights live in the checkpoint)
    )
    relations: list[str] = field(default_factory=list)
    head_types: list[str] = field(default_factory=list)
    tail_types: list[str] = field(default_factory=list)
    d_e: int = 256  # hidden size of the pair representation ReLU(W_s s_i + W_o o_j + b)
    dropout: float = 0.1  # on the encoder's token vectors, before the pair projections
    pair_dropout: float = 0.0  # on the B x L x L x d_e pair features after the ReLU (OneRel: 0.1)
    loss: LossName = "mcce"  # extractor.losses: also decides the head's outputs (3 marks, or 8 classes)
    max_tokens: int = 512
    tokenization: TokenizationMode = "char"
    window_chars: int = 200
    window_stride: int = 150
    positive_weight: float = 1.0  # weight of marked cells in the "softmax" and "bce" losses (1: plain mean)
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
    ns: int = 10  # relation types scored per sentence (all K when ns >= K); the paper's best on diabetes
    ns_scope: NSScope = "sentence"  # "batch": one shared set per batch (as first built)
    # bge-small-zh on DiaKG (results.md): 3e-3 / 2e-4 lost most of its recall at the peak of the warmup
    # (validation F1 0.16 -> 0.09), 1e-3 / 1e-4 learned as fast without that dip.
    lr: float = 1e-3  # head (W_s, W_o, R)
    encoder_lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 16
    # Share of the training windows without any triple that each epoch includes (a fresh draw per epoch):
    # half of DiaKG's windows hold none; OneRel's reference loader drops them all (0).
    empty_windows: float = 1.0
    # Relation types renamed before training, in every corpus: OLD -> NEW, or OLD -> "" to drop the type.
    relation_aliases: dict[str, str] = field(default_factory=dict)
    epochs: int = 30
    max_steps: int = 0  # 0: no cap beyond `epochs`
    warmup_ratio: float = 0.1
    grad_clip: float = 1.0
    patience: int = 10  # evaluations without a better validation F1 before stopping, counted once F1 > 0
    eval_every_steps: int = 0  # 0: evaluate once per epoch
    seed: int = 13
    split_seed: int | None = 0  # seed of the validation split, fixed so that seeds vary training only
    val_fraction: float = 0.15  # 0: no validation split; the best checkpoint is then chosen on training F1
    train_eval_limit: int = 500  # sentences of the training split used to report train F1 (all when 0)
    target_precision: float = 0.9  # the validation precision the model's default min_confidence must reach
    curve_train_f1: bool = False  # also score that sample at every evaluation (the fitting curve; slower)
    device: str = "auto"  # "auto": CUDA when available, else CPU
    amp: bool = True  # autocast on CUDA (bf16 when supported, else fp16 with a grad scaler)


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
# moderate encoder one, no dropout. It overfits the project's 105-sentence sample to train F1 >= 0.95 in
# about 50 epochs.
TINY_TRAIN = TrainConfig(
    model=NRSOneRelConfig(d_e=128, dropout=0.0),
    lr=3e-2, encoder_lr=2e-3, batch_size=8, epochs=50, warmup_ratio=0.05, patience=100,
)  # fmt: skip


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


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`key=value` strings into typed settings of TrainConfig or its model config (`with_settings`' keys).

    Values take the field's type: numbers, `true`/`false`, text, and for a mapping `OLD=NEW;OLD2=NEW2`.
    """
    types = {**get_type_hints(NRSOneRelConfig), **get_type_hints(TrainConfig)}
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types or key == "model":
            raise ValueError(f"{pair!r}: expected KEY=VALUE with KEY a training or model setting")
        settings[key] = _typed(key, text.strip(), types[key])
    return settings


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
            raise ValueError(f"{key}={text}: use one of {', '.join(get_args(kind))}")
        return text
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{key}={text}: use true or false")
        return text.lower() == "true"
    try:
        return kind(text)
    except ValueError as e:
        raise ValueError(f"{key}={text}: expected {kind.__name__}") from e


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
    model = from_json(NRSOneRelConfig, data)
    return model, (replace(from_json(TrainConfig, train), model=model) if train is not None else None)
