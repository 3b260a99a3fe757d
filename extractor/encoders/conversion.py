"""What the bge and e5 conversions share: a BERT state dict and its tokenizer written as a HuggingFace
directory that is either complete or not there at all, and never written over anything of someone else's."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from nrskg.errors import ModelError

log = logging.getLogger(__name__)

MARKER_FILE = "nrskg_conversion.json"  # written last: its presence means the directory is complete


def already_converted(out_dir: Path, marker: dict, what: str) -> bool:
    """Whether `out_dir` holds this very conversion, so it need not be redone; a directory that holds
    anything but a conversion of ours (`what`, e.g. "a bge conversion") is refused, never overwritten."""
    try:
        if json.loads((out_dir / MARKER_FILE).read_text(encoding="utf-8")) == marker:
            log.info("%s already holds this conversion", out_dir)
            return True
    except (OSError, ValueError):
        pass
    if out_dir.exists() and (
        not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER_FILE).exists())
    ):
        raise ModelError(f"{out_dir} exists and is not {what}: refusing to overwrite it")
    return False


def write_bert(
    out_dir: Path,
    marker: dict,
    state: dict[str, np.ndarray],
    tokenizer: tuple[type[PreTrainedTokenizerFast], str, Mapping[str, str]],
    **config: object,
) -> None:
    """Write `state` as a pooler-less BertModel and `tokenizer` (its class, `tokenizer.json` text and special
    tokens) to `out_dir`, sizes read from the weights and the rest of the BertConfig from `config`.

    Everything is written to a staging directory beside `out_dir` and renamed into place once complete, so
    an interrupted conversion leaves `out_dir` as it was.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary shared model directory
    try:
        bert = _bert_config(state, config)
        model = BertModel(bert, add_pooling_layer=False)  # neither export has a pooler; we use token vectors
        try:
            model.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)
        except RuntimeError as e:
            raise ModelError(f"the weights do not fit a BertModel of {bert.to_dict()}: {e}") from e
        model.save_pretrained(staging)
        tokenizer_class, tokenizer_json, special_tokens = tokenizer
        tokenizer_class(
            tokenizer_object=Tokenizer.from_str(tokenizer_json),
            model_max_length=bert.max_position_embeddings,
            **special_tokens,
        ).save_pretrained(staging)
        (staging / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)  # only an older conversion of ours gets here
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _bert_config(state: dict[str, np.ndarray], config: Mapping[str, object]) -> BertConfig:
    """The BertConfig whose sizes are those of the weights in `state`; `config` adds what they cannot tell."""
    vocab, hidden = state["embeddings.word_embeddings.weight"].shape
    layers = len({name.split(".")[2] for name in state if name.startswith("encoder.layer.")})
    return BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        intermediate_size=state["encoder.layer.0.intermediate.dense.bias"].shape[0],
        hidden_act="gelu",  # exact erf GELU, as both sources compute it
        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0],
        **config,
    )
