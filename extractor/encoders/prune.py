"""Shrink an encoder to the tokens a corpus needs in char mode, where a 250k-piece vocabulary does not fit.

multilingual-e5-small spends 96M of its 118M parameters on a 250k-row embedding matrix, but char-mode
tokenization (extractor.tokenization) of Chinese medical text looks up only a few thousand pieces. Keeping
those rows (and the special tokens), renumbered in their original order, gives a model that computes exactly
the same hidden states on that text: an embedding lookup does not care which other rows exist.

The tokenizer is rewritten from its `tokenizer.json` with the reduced vocabulary (Unigram or WordPiece),
so `AutoTokenizer` loads it and char mode maps every kept character to the row it had before, renumbered.
Characters outside the corpus become the unknown token.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from extractor.tokenization import SENTENCEPIECE_SPACE, CharVocabulary
from nrskg.errors import ModelError

if TYPE_CHECKING:
    from extractor.datasets.corpora import Corpus

log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
COPIED_FILES = ("tokenizer_config.json", "special_tokens_map.json")
MARKER_FILE = "nrskg_pruned.json"  # what was kept and from where
_LAYER = re.compile(r"(?:^|\.)layer\.(\d+)(?:\.|$)")  # `encoder.layer.3.attention...` is in layer 3


def corpus_texts(data: list[Corpus], text_files: list[Path | str]) -> list[str]:
    """The sentences of labelled data sets plus raw text files (a text per line)."""
    from extractor.datasets import load  # the readers are needed only here

    texts = [example.text for c in data for doc in load(c.path, c.fmt) for example in doc.examples]
    for file in text_files:
        try:
            texts += Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ModelError(f"{file}: cannot read as UTF-8 text: {e}") from e
    return texts


def kept_token_ids(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[int]:
    """Sorted ids of the special tokens, the space piece and every piece char mode looks up for `texts`."""
    lookup = CharVocabulary(tokenizer)
    chars = {c for text in texts for c in text}
    kept = {lookup.id(c) for c in chars} | set(tokenizer.all_special_ids)
    space = tokenizer.get_vocab().get(SENTENCEPIECE_SPACE)
    if space is not None:
        kept.add(space)
    return sorted(kept)


def prune_vocabulary(
    model_dir: Path | str,
    texts: list[str],
    out_dir: Path | str,
    dtype: torch.dtype = torch.float16,
    layers: int | None = None,
) -> Path:
    """Write a copy of the encoder in `model_dir` that keeps only the tokens `texts` need in char mode.

    `dtype` is the storage type of the weights (the config keeps float32, so loading gives an fp32 model
    ready to train); `layers` keeps only the first N transformer layers.
    """
    src, out = Path(model_dir), Path(out_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=True)
        model = AutoModel.from_pretrained(src, local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot load the encoder to prune from {src}: {e}") from e
    if not (src / TOKENIZER_FILE).is_file():
        raise ModelError(f"{src}: pruning needs a fast tokenizer's {TOKENIZER_FILE}")
    kept = kept_token_ids(tokenizer, texts)
    remap = {old: new for new, old in enumerate(kept)}

    out.mkdir(parents=True, exist_ok=True)
    tokenizer_json = json.loads((src / TOKENIZER_FILE).read_text(encoding="utf-8"))
    (out / TOKENIZER_FILE).write_text(
        json.dumps(_prune_tokenizer_json(tokenizer_json, kept, remap), ensure_ascii=False), encoding="utf-8"
    )
    for name in COPIED_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, out / name)

    config = AutoConfig.from_pretrained(src, local_files_only=True)
    n_layers = config.num_hidden_layers if layers is None else layers
    if not 1 <= n_layers <= config.num_hidden_layers:
        raise ModelError(f"layers must be between 1 and {config.num_hidden_layers}, got {layers}")
    config.vocab_size = len(kept)
    config.num_hidden_layers = n_layers
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        old = getattr(config, name, None)
        if old is not None:
            setattr(config, name, remap.get(old))
    pruned = type(model)(config, **_model_kwargs(model, src))
    wanted = pruned.state_dict().keys()
    state = _pruned_state(model.state_dict(), kept, n_layers)
    pruned.load_state_dict({k: v for k, v in state.items() if k in wanted}, strict=True)
    pruned.to(dtype).save_pretrained(out)
    config.dtype = "float32"  # stored in `dtype`, but load as fp32 for training (AMP handles the rest)
    config.save_pretrained(out)
    marker = {"source": str(src), "kept_tokens": len(kept), "source_tokens": len(tokenizer)}
    marker |= {"layers": n_layers, "storage_dtype": str(dtype).removeprefix("torch.")}
    (out / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    log.info("pruned %s to %d tokens, %d layers -> %s", src, len(kept), n_layers, out)
    return out


def _model_kwargs(model: torch.nn.Module, src: Path) -> dict[str, bool]:
    """Keep a BertModel's pooler only where the source's weights have one (e5 has none: no random pooler)."""
    if getattr(model, "pooler", None) is None:
        return {}
    weights = src / WEIGHTS_FILE
    if not weights.is_file():
        return {}
    with safe_open(str(weights), framework="pt") as f:
        return {"add_pooling_layer": any("pooler" in key for key in f.keys())}


def _pruned_state(state: dict[str, torch.Tensor], kept: list[int], n_layers: int) -> dict[str, torch.Tensor]:
    """The state dict with the kept embedding rows and without the layers beyond `n_layers`."""
    index = torch.tensor(kept, dtype=torch.long)
    out = {}
    for name, tensor in state.items():
        layer = _LAYER.search(name)
        if layer is not None and int(layer.group(1)) >= n_layers:
            continue
        out[name] = tensor[index].clone() if name.endswith("word_embeddings.weight") else tensor
    return out


def _prune_tokenizer_json(data: dict, kept: list[int], remap: dict[int, int]) -> dict:
    """`tokenizer.json` with the vocabulary of its model cut to `kept` and every id renumbered."""
    model = data["model"]
    if model["type"] == "Unigram":
        model["vocab"] = [model["vocab"][i] for i in kept]
        if model.get("unk_id") is not None:
            model["unk_id"] = remap[model["unk_id"]]
    elif model["type"] in ("WordPiece", "WordLevel"):
        by_id = {i: token for token, i in model["vocab"].items()}
        model["vocab"] = {by_id[old]: new for old, new in remap.items()}
    else:
        raise ModelError(f"pruning supports Unigram and WordPiece tokenizers, not {model['type']}")
    data["added_tokens"] = [
        dict(t, id=remap[t["id"]]) for t in data.get("added_tokens", []) if t["id"] in remap
    ]
    data["post_processor"] = _renumber_specials(data.get("post_processor"), remap)
    return data


def _renumber_specials(node: object, remap: dict[int, int]) -> object:
    """Renumber the special-token ids a post-processor spells out ("ids": [...], or BERT's ["[CLS]", id])."""
    if isinstance(node, dict):
        return {
            key: [remap[i] for i in value] if key == "ids" else _renumber_specials(value, remap)
            for key, value in node.items()
        }
    if isinstance(node, list):
        if len(node) == 2 and isinstance(node[0], str) and isinstance(node[1], int):
            return [node[0], remap[node[1]]]
        return [_renumber_specials(item, remap) for item in node]
    return node
