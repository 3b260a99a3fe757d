"""A tiny randomly initialised BERT with a character vocabulary, for tests and the demo.

It is written as an ordinary HuggingFace directory (config.json, model.safetensors, vocab and fast tokenizer
files), so it loads through exactly the same AutoModel / AutoTokenizer path as a real pretrained encoder.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass
class TinyEncoderConfig:
    """Sizes of the tiny encoder. `seed` fixes its weights alone, like a pretrained encoder's: the training
    seed still varies the head, the sampled negatives and the batch order."""

    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    max_positions: int = 512
    seed: int = 13


def character_vocabulary(texts: list[str]) -> list[str]:
    """Special tokens, then each non-space character of `texts` once, sorted: reproducible.

    Characters are stored in their NFKC form ("～" as "~"), the form the pipeline's normalisation gives the
    texts it extracts from; the char-mode lookup folds raw training text to the same entries.
    """
    chars = sorted({unicodedata.normalize("NFKC", c) for text in texts for c in text if not c.isspace()})
    chars = [c for c in chars if len(c) == 1 and not c.isspace()]
    return SPECIAL_TOKENS + [c for c in chars if c not in SPECIAL_TOKENS]


def build_tiny_encoder(
    texts: list[str], out_dir: Path | str, config: TinyEncoderConfig | None = None
) -> Path:
    """Write a random BERT whose vocabulary is the characters of `texts` into `out_dir`; return that path."""
    config = config or TinyEncoderConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = character_vocabulary(texts)
    # Case is kept: "HbA1c" and "hba1c" are different characters in the vocabulary.
    tokenizer = BertTokenizerFast(
        vocab={token: i for i, token in enumerate(vocab)},
        do_lower_case=False,
        model_max_length=config.max_positions,
    )
    tokenizer.save_pretrained(out)
    bert_config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=config.hidden,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        intermediate_size=config.intermediate,
        max_position_embeddings=config.max_positions,
        pad_token_id=0,
    )
    # The encoder's own seed must not reset the caller's generator: `train` seeds it and then builds this
    # encoder and the head, so a reset here gave every training seed the same head.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        encoder = BertModel(bert_config)
    encoder.save_pretrained(out)
    return out
