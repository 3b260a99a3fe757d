"""Vocabulary pruning keeps char-mode ids (renumbered) and the hidden states, for WordPiece and Unigram."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import Unigram
from tokenizers.pre_tokenizers import Metaspace
from tokenizers.processors import TemplateProcessing
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, XLMRobertaTokenizerFast

from extractor.encoders.prune import MARKER_FILE, kept_token_ids, prune_vocabulary
from extractor.encoders.tiny import TinyEncoderConfig, build_tiny_encoder
from extractor.tokenization import TextTokenizer

CORPUS = ["2型糖尿病患者口服二甲双胍", "胰岛素治疗 HbA1c"]
SAMPLE = "糖尿病患者 HbA1c 胰岛素"
OTHER = "高血压心脏肺炎"  # characters that do not occur in CORPUS


def _xlmr_encoder(out: Path) -> Path:
    """A random 2-layer BertModel behind an XLM-R style Unigram tokenizer, like the converted e5."""
    chars = sorted(set("".join(CORPUS + [OTHER])) - {" "})
    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -5.0) for c in chars] + [("▁" + c, -6.0) for c in chars[:4]] + [("<mask>", 0.0)]
    backend = Tokenizer(Unigram(pieces, unk_id=3, byte_fallback=False))
    backend.pre_tokenizer = Metaspace()
    backend.post_processor = TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
        pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
    )  # fmt: skip
    tokenizer.save_pretrained(out)
    config = BertConfig(
        vocab_size=len(pieces), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    return out


@pytest.fixture(params=["wordpiece", "unigram"])
def encoder_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "wordpiece":
        tiny = TinyEncoderConfig(hidden=32, layers=2, heads=2, intermediate=64, max_positions=64)
        return build_tiny_encoder(CORPUS + [OTHER], tmp_path / "full", tiny)
    return _xlmr_encoder(tmp_path / "full")


def _hidden(model_dir: Path, text: str) -> tuple[list[str], torch.Tensor]:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = TextTokenizer(tokenizer, "char", 64)([text])[0].input_ids
    model = AutoModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        hidden = model(
            input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids))
        ).last_hidden_state
    return tokenizer.convert_ids_to_tokens(ids), hidden


def test_pruned_encoder_computes_the_same_hidden_states(encoder_dir: Path, tmp_path: Path) -> None:
    out = prune_vocabulary(encoder_dir, CORPUS, tmp_path / "pruned")
    full_tokens, full_hidden = _hidden(encoder_dir, SAMPLE)
    pruned_tokens, pruned_hidden = _hidden(out, SAMPLE)
    assert pruned_tokens == full_tokens  # same pieces, renumbered ids
    assert torch.allclose(pruned_hidden, full_hidden, atol=2e-2)  # fp16 storage
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["kept_tokens"] < marker["source_tokens"]
    assert AutoModel.from_pretrained(out).dtype == torch.float32  # stored fp16, loads ready to train


def test_unseen_characters_become_unknown_and_specials_survive(encoder_dir: Path, tmp_path: Path) -> None:
    out = prune_vocabulary(encoder_dir, CORPUS, tmp_path / "pruned")
    tokenizer = AutoTokenizer.from_pretrained(out)
    encoded = TextTokenizer(tokenizer, "char", 64)([OTHER])[0].input_ids
    assert encoded[1:-1] == [tokenizer.unk_token_id] * len(OTHER)
    for token in ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token"):
        assert getattr(tokenizer, token + "_id") is not None
    assert len(tokenizer) == AutoModel.from_pretrained(out).config.vocab_size


def test_kept_ids_cover_every_character_once(encoder_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    kept = kept_token_ids(tokenizer, CORPUS)
    assert kept == sorted(set(kept))
    assert set(tokenizer.all_special_ids) <= set(kept)
    used = set(TextTokenizer(tokenizer, "char", 64)(CORPUS)[0].input_ids)
    assert used <= set(kept)


def test_fewer_layers(encoder_dir: Path, tmp_path: Path) -> None:
    out = prune_vocabulary(encoder_dir, CORPUS, tmp_path / "pruned", layers=1)
    assert AutoModel.from_pretrained(out).config.num_hidden_layers == 1
