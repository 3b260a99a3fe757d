"""Domain-adaptive pretraining: continued masked-language-model training with whole-word masking (BERT-wwm).

Chinese BERT vocabularies (and our char mode) see one token per character, so masking single tokens lets the
model guess "尿" from "糖_病". Whole-word masking picks WORDS, as jieba segments them (optionally with a
medical user dictionary built from the training entities), and masks every character of a chosen word.

Texts come raw (segmented here, importing jieba only then) or pre-segmented ({"words": [...]} JSONL), so the
training itself runs where jieba is not installed. The result is an ordinary encoder directory that
`--encoder DIR` accepts; the MLM head is not kept (its transform starts fresh for encoders saved without one).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from tqdm.auto import tqdm
from transformers import AutoModelForMaskedLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from extractor.batching import pad_inputs
from extractor.datasets import Document
from extractor.device import autocast, resolve_device
from extractor.losses import IGNORE_INDEX
from extractor.schedule import warmup_then_decay
from extractor.tokenization import TextTokenizer
from nrskg.errors import DataFormatError, ModelError

log = logging.getLogger(__name__)

METRICS_FILE = "pretrain_metrics.json"


@dataclass
class PretrainConfig:
    steps: int = 1000
    batch_size: int = 32
    max_chars: int = 126  # characters per training chunk (+ 2 special tokens); chunks end at word boundaries
    mask_prob: float = 0.15  # share of a chunk's tokens that are predicted
    lr: float = 5e-5
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 13
    device: str = "auto"
    amp: bool = True  # bf16 on CUDA and on CPUs with native bf16 (extractor.device.autocast)
    log_every: int = 50


@dataclass
class PretrainResult:
    out_dir: Path
    steps: int
    first_loss: float  # mean over the first `log_every` steps
    last_loss: float  # mean over the last `log_every` steps
    chunks: int
    wall_time_s: float
    losses: list[float] = field(default_factory=list)


# ---- texts and words ----


def entity_words(docs: Iterable[Document]) -> list[str]:
    """Distinct entity strings of labelled documents (without spaces): the medical user dictionary."""
    triples = (t for doc in docs for example in doc.examples for t in example.triples)
    words = {w for t in triples for w in (t.head.text, t.tail.text)}
    return sorted(w for w in words if w.strip() and not any(c.isspace() for c in w))


def write_user_dict(words: Iterable[str], path: Path | str, freq: int = 1000) -> Path:
    """jieba's user dictionary format: `word freq` per line; a high frequency keeps the word whole."""
    out = Path(path)
    out.write_text("".join(f"{w} {freq}\n" for w in words), encoding="utf-8")
    return out


def segment(texts: Sequence[str], user_dict: Path | str | None = None) -> list[list[str]]:
    """Words of each text by jieba (imported here: the training machine need not have it)."""
    try:
        import jieba
    except ImportError as e:
        raise ModelError(
            "segmenting raw text needs jieba (pip install jieba), or pass pre-segmented words"
        ) from e
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    if user_dict is not None:
        tokenizer.load_userdict(str(user_dict))
    bar = tqdm(texts, desc="jieba", unit="text", mininterval=5, disable=None)  # on a terminal only
    return [tokenizer.lcut(text) for text in bar]


def chunks(words: Sequence[str], max_chars: int) -> list[list[str]]:
    """Consecutive words packed into chunks of at most `max_chars` characters (a longer word is cut)."""
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for word in words:
        for start in range(0, len(word), max_chars):
            piece = word[start : start + max_chars]
            if size + len(piece) > max_chars and current:
                out.append(current)
                current, size = [], 0
            current.append(piece)
            size += len(piece)
    if current:
        out.append(current)
    return out


# ---- masking ----


def word_index(words: Sequence[str]) -> list[int]:
    """For each character of "".join(words), the index of its word: char mode has one token per character."""
    return [n for n, word in enumerate(words) for _ in word]


def whole_word_mask(word_ids: Sequence[int], mask_prob: float, rng: np.random.Generator) -> np.ndarray:
    """Which text tokens to predict: whole words in random order until ~mask_prob of the tokens are covered.

    Like HF's DataCollatorForWholeWordMask: a word that would overshoot the budget is skipped, so a word is
    always masked entirely or not at all.
    """
    n = len(word_ids)
    selected = np.zeros(n, dtype=bool)
    if n == 0:
        return selected
    positions: dict[int, list[int]] = {}
    for position, word in enumerate(word_ids):
        positions.setdefault(word, []).append(position)
    budget = max(1, round(n * mask_prob))
    covered = 0
    for word in rng.permutation(list(positions)):
        if covered >= budget:
            break
        span = positions[int(word)]
        if covered + len(span) > budget:
            continue
        selected[span] = True
        covered += len(span)
    return selected


def mask_inputs(
    input_ids: Sequence[int],
    word_ids: Sequence[int],
    tokenizer: PreTrainedTokenizerBase,
    mask_prob: float,
    rng: np.random.Generator,
) -> tuple[list[int], list[int]]:
    """(inputs, labels) for one chunk laid out [start] text [end]: BERT's 80/10/10 on whole-word picks.

    Labels are IGNORE_INDEX except at the picked tokens; special tokens are never picked.
    """
    text = np.asarray(input_ids[1:-1])
    picked = whole_word_mask(word_ids[: len(text)], mask_prob, rng)
    labels = np.where(picked, text, IGNORE_INDEX)
    roll = rng.random(len(text))
    inputs = text.copy()
    inputs[picked & (roll < 0.8)] = tokenizer.mask_token_id
    random_token = picked & (roll >= 0.8) & (roll < 0.9)
    inputs[random_token] = rng.integers(0, len(tokenizer), size=int(random_token.sum()))
    return (
        [input_ids[0], *inputs.tolist(), input_ids[-1]],
        [IGNORE_INDEX, *labels.tolist(), IGNORE_INDEX],
    )


# ---- training ----


def pretrain(
    encoder: Path | str,
    texts: Sequence[str] | Sequence[Sequence[str]],
    out_dir: Path | str,
    config: PretrainConfig | None = None,
    user_dict: Path | str | None = None,
    progress: bool = True,
) -> PretrainResult:
    """Continue MLM training of `encoder` on `texts` (raw, or lists of words) and save it to `out_dir`."""
    config = config or PretrainConfig()
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(encoder)
        model = AutoModelForMaskedLM.from_pretrained(encoder)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot load encoder {encoder!r} for masked-LM training: {e}") from e
    if tokenizer.mask_token_id is None:
        raise ModelError(f"{encoder}: the tokenizer has no mask token")
    if _prediction_head(model) is None:
        raise ModelError(f"{encoder}: masked-LM training needs a BERT (`cls`) or RoBERTa (`lm_head`) head")
    segmented = [t for t in texts if isinstance(t, list)] or segment(
        [t for t in texts if t.strip()], user_dict
    )
    pieces = [chunk for words in segmented for chunk in chunks([w for w in words if w], config.max_chars)]
    if not pieces:
        raise DataFormatError("no text to pretrain on")
    encoded = TextTokenizer(tokenizer, "char", config.max_chars + 2)(["".join(c) for c in pieces])
    word_ids = [word_index(c) for c in pieces]
    log.info("%d texts -> %d chunks of <= %d characters", len(segmented), len(pieces), config.max_chars)

    device = resolve_device(config.device)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = warmup_then_decay(optimizer, int(config.warmup_ratio * config.steps), config.steps)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    losses: list[float] = []
    for _ in tqdm(range(config.steps), desc="pretrain", unit="step", disable=None if progress else True):
        picked = rng.choice(len(pieces), size=min(config.batch_size, len(pieces)), replace=False)
        batch = [
            mask_inputs(encoded[i].input_ids, word_ids[i], tokenizer, config.mask_prob, rng) for i in picked
        ]
        inputs, labels, attention = _pad(batch, pad, device)
        with autocast(device, cpu_bf16=True) if config.amp else nullcontext():
            loss = masked_lm_loss(model, inputs, attention, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        if len(losses) % config.log_every == 0:
            log.info("step %d MLM loss %.4f", len(losses), np.mean(losses[-config.log_every :]))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.base_model.save_pretrained(out)  # the encoder alone: what NRS-OneRel fine-tunes
    tokenizer.save_pretrained(out)
    window = max(1, min(config.log_every, len(losses) // 2))
    result = PretrainResult(
        out_dir=out,
        steps=len(losses),
        first_loss=float(np.mean(losses[:window])),
        last_loss=float(np.mean(losses[-window:])),
        chunks=len(pieces),
        wall_time_s=round(time.perf_counter() - started, 2),
        losses=[round(v, 4) for v in losses],
    )
    metrics = {**asdict(result), "out_dir": str(out), "encoder": str(encoder), "config": asdict(config)}
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    log.info("MLM loss %.3f -> %.3f in %d steps, %.0f s -> %s", result.first_loss, result.last_loss,
             result.steps, result.wall_time_s, out)  # fmt: skip
    return result


def masked_lm_loss(
    model: PreTrainedModel, inputs: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy at the picked tokens only.

    The model's own loss projects every position onto the vocabulary (21,128 words x 512 for bge-small-zh),
    about as much work as the encoder itself, to keep the 15 % of positions that carry a label.
    """
    hidden = model.base_model(input_ids=inputs, attention_mask=attention).last_hidden_state
    picked = labels != IGNORE_INDEX
    logits = _prediction_head(model)(hidden[picked])
    return F.cross_entropy(logits.float(), labels[picked])


def _prediction_head(model: PreTrainedModel) -> torch.nn.Module | None:
    """The module mapping hidden states to vocabulary logits, by its name in BERT and RoBERTa models."""
    heads = (getattr(model, name, None) for name in ("cls", "lm_head"))
    return next((head for head in heads if head is not None), None)


def _pad(
    batch: list[tuple[list[int], list[int]]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    inputs, attention = pad_inputs([ids for ids, _ in batch], pad)
    labels = pad_sequence([torch.tensor(y) for _, y in batch], batch_first=True, padding_value=IGNORE_INDEX)
    return inputs.to(device), labels.to(device), attention.to(device)
