"""Whole-word masking: whole words, about 15% of tokens, never specials; a few MLM steps lower the loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoTokenizer,
    DistilBertConfig,
    DistilBertForMaskedLM,
)

from extractor.encoders.tiny import TinyEncoderConfig, build_tiny_encoder
from extractor.losses import IGNORE_INDEX
from extractor.pretrain import (
    METRICS_FILE,
    PretrainConfig,
    chunks,
    mask_inputs,
    masked_lm_loss,
    pretrain,
    segment,
    whole_word_mask,
    word_index,
)
from extractor.tokenization import TextTokenizer
from nrskg.errors import ModelError

WORDS = [
    "2型",
    "糖尿病",
    "患者",
    "应",
    "口服",
    "二甲双胍",
    "控制",
    "血糖",
    "，",
    "定期",
    "监测",
    "糖化血红蛋白",
    "。",
]
TEXTS = ["2型糖尿病患者应口服二甲双胍控制血糖。", "胰岛素治疗可降低糖化血红蛋白。", "定期监测血糖和血压。"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TinyEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, max_positions=64)
    return build_tiny_encoder(TEXTS + ["".join(WORDS)], tmp_path_factory.mktemp("tiny"), config)


def test_whole_words_are_masked_entirely_or_not_at_all() -> None:
    ids = word_index(WORDS * 8)
    for seed in range(20):
        picked = whole_word_mask(ids, 0.15, np.random.default_rng(seed))
        for word in set(ids):
            states = {bool(picked[i]) for i, w in enumerate(ids) if w == word}
            assert len(states) == 1, f"word {word} partly masked"


def test_about_fifteen_percent_of_tokens_are_picked() -> None:
    ids = word_index(WORDS * 20)
    shares = [whole_word_mask(ids, 0.15, np.random.default_rng(s)).mean() for s in range(30)]
    assert 0.12 <= float(np.mean(shares)) <= 0.16
    assert max(shares) <= 0.15 + 1e-9  # a word that would overshoot the budget is skipped


def test_special_tokens_are_never_masked(tiny_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    words = WORDS * 2
    ids = TextTokenizer(tokenizer, "char", 128)(["".join(words)])[0].input_ids
    for seed in range(20):
        inputs, labels = mask_inputs(ids, word_index(words), tokenizer, 0.3, np.random.default_rng(seed))
        assert inputs[0] == ids[0] and inputs[-1] == ids[-1]
        assert labels[0] == labels[-1] == IGNORE_INDEX
        picked = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
        assert picked and all(labels[i] == ids[i] for i in picked)  # labels are the original tokens
        unpicked = [i for i in range(len(ids)) if i not in picked]
        assert all(inputs[i] == ids[i] for i in unpicked)
        masked = sum(inputs[i] == tokenizer.mask_token_id for i in picked)
        assert masked >= 0.5 * len(picked)  # 80% [MASK] on average


def test_chunks_end_at_word_boundaries() -> None:
    pieces = chunks(WORDS, 10)
    assert ["".join(p) for p in pieces if p] and "".join("".join(p) for p in pieces) == "".join(WORDS)
    assert all(len("".join(p)) <= 10 for p in pieces)
    assert all(set(p) <= set(WORDS) for p in pieces)


def test_jieba_segments_with_a_user_dictionary(tmp_path: Path) -> None:
    user_dict = tmp_path / "dict.txt"
    user_dict.write_text("糖化血红蛋白 1000\n", encoding="utf-8")
    words = segment(["定期监测糖化血红蛋白。"], user_dict)[0]
    assert "糖化血红蛋白" in words and "".join(words) == "定期监测糖化血红蛋白。"


def test_a_few_mlm_steps_reduce_the_loss(tiny_dir: Path, tmp_path: Path) -> None:
    config = PretrainConfig(steps=40, batch_size=8, max_chars=24, lr=3e-3, warmup_ratio=0.0, log_every=8)
    result = pretrain(tiny_dir, [WORDS] * 8, tmp_path / "out", config, progress=False)
    assert result.last_loss < result.first_loss - 0.3
    assert AutoModel.from_pretrained(tmp_path / "out").config.vocab_size == len(
        AutoTokenizer.from_pretrained(tmp_path / "out")
    )
    assert json.loads((tmp_path / "out" / METRICS_FILE).read_text())["steps"] == 40


def test_the_loss_at_picked_tokens_is_the_models_own_loss(tiny_dir: Path) -> None:
    model = AutoModelForMaskedLM.from_pretrained(tiny_dir).eval()
    inputs = torch.randint(5, model.config.vocab_size, (3, 12))
    attention = torch.ones_like(inputs)
    attention[2, 8:] = 0
    labels = torch.full_like(inputs, IGNORE_INDEX)
    labels[0, 3], labels[1, 1:4], labels[2, 7] = inputs[0, 3], inputs[1, 1:4], inputs[2, 7]
    with torch.no_grad():
        expected = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
        assert torch.allclose(masked_lm_loss(model, inputs, attention, labels), expected, atol=1e-6)


def test_an_encoder_without_a_bert_or_roberta_head_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    tokenizer.save_pretrained(tmp_path / "enc")
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=16, n_layers=1, n_heads=2, hidden_dim=32)
    DistilBertForMaskedLM(config).save_pretrained(tmp_path / "enc")
    with pytest.raises(ModelError, match="head"):
        pretrain(tmp_path / "enc", [WORDS], tmp_path / "out", PretrainConfig(steps=1), progress=False)
    assert not (tmp_path / "out").exists()


def test_the_pretrain_command_reads_a_folder_as_ingest_does(tiny_dir: Path, tmp_path: Path) -> None:
    """`nrskg pretrain --texts DIR` reads what `nrskg ingest DIR` reads, `.json` documents included."""
    from typer.testing import CliRunner

    from flows.cli import app

    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "guide.json").write_text(json.dumps({"text": "".join(WORDS)}, ensure_ascii=False), "utf-8")
    out = tmp_path / "out"
    args = ["pretrain", "--encoder", str(tiny_dir), "--texts", str(texts), "--out", str(out)]
    done = CliRunner().invoke(app, [*args, "--steps", "1", "--batch-size", "1", "--max-chars", "24"])
    assert done.exit_code == 0, done.output
    assert "over 1 steps (2 chunks" in done.stdout and (out / METRICS_FILE).is_file(), done.output
