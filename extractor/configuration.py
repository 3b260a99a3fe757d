"""Typed configuration of the NRS-OneRel model and of its training run (fields with defaults, no logic).

Both round-trip through JSON: a model's `config.json` holds the model config with the training config
it was trained under, so a checkpoint says how it was made and how its inputs must be windowed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

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
    dropout: float = 0.1
    pair_dropout: bool = False  # EXPERIMENT
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

    The model sizes (d_e, dropout, max_tokens, tokenization, windows) are here too so that one object fully
    describes a run; `train` copies them into the `NRSOneRelConfig`.
    """

    ns: int = 10  # relation types scored per sentence (all K when ns >= K); the paper's best on diabetes
    ns_scope: NSScope = "sentence"  # "batch": one shared set per batch (as first built)
    # bge-small-zh on DiaKG (results.md): 3e-3 / 2e-4 lost most of its recall at the peak of the warmup
    # (validation F1 0.16 -> 0.09), 1e-3 / 1e-4 learned as fast without that dip.
    lr: float = 1e-3  # head (W_s, W_o, R)
    encoder_lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 16
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
    window_chars: int = 200
    window_stride: int = 150
    d_e: int = 256
    dropout: float = 0.1
    pair_dropout: bool = False  # EXPERIMENT
    max_tokens: int = 512
    tokenization: TokenizationMode = "char"
    device: str = "auto"  # "auto": CUDA when available, else CPU
    amp: bool = True  # autocast on CUDA (bf16 when supported, else fp16 with a grad scaler)
    loss: LossName = "mcce"
    positive_weight: float = 1.0  # loss weight of marked cells, for the "softmax" and "bce" losses


# What learns with the random `tiny` encoder (no pretraining to protect): a large head learning rate, a
# moderate encoder one, no dropout. It overfits the project's 105-sentence sample to train F1 >= 0.95 in
# about 50 epochs.
TINY_TRAIN = TrainConfig(
    lr=3e-2, encoder_lr=2e-3, d_e=128, dropout=0.0, batch_size=8, epochs=50, warmup_ratio=0.05, patience=100
)


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


def to_json(config: NRSOneRelConfig | TrainConfig) -> dict[str, Any]:
    return asdict(config)


def from_json(cls: type[NRSOneRelConfig] | type[TrainConfig], data: dict[str, Any]):
    """Build `cls` from a dict, ignoring keys it does not know, so older checkpoints still load."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


def save_config(path: Path, model: NRSOneRelConfig, train: TrainConfig | None = None) -> None:
    data = {"model_type": "nrs-onerel", **to_json(model)}
    if train is not None:
        data["train"] = to_json(train)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load_config(path: Path) -> tuple[NRSOneRelConfig, TrainConfig | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    train = data.pop("train", None)
    data.setdefault("loss", "softmax")  # checkpoints written before the loss option all used the softmax
    return from_json(NRSOneRelConfig, data), (from_json(TrainConfig, train) if train is not None else None)
