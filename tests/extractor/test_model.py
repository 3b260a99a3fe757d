"""NRS-OneRel: shapes, the factored head, loss normalisation, sampled gradients, row blocks, save/load."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from extractor.configuration import NRSOneRelConfig
from extractor.encoders.tiny import build_tiny_encoder
from extractor.model import NRSOneRelModel, table_mask
from nrskg.errors import ModelError

K, C, B, T = 5, 8, 2, 9


def tiny_model(dropout: float = 0.0) -> NRSOneRelModel:
    torch.manual_seed(0)
    encoder = BertModel(
        BertConfig(
            vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37
        )
    )
    config = NRSOneRelConfig(
        relations=[f"r{k}" for k in range(K)],
        head_types=["H"] * K,
        tail_types=["T"] * K,
        d_e=16,
        dropout=dropout,
    )
    return NRSOneRelModel(config, encoder).eval()


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows: 7 text tokens, and 4 text tokens plus padding."""
    input_ids = torch.randint(5, 99, (B, T), generator=torch.Generator().manual_seed(1))
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, 6:] = 0
    input_ids[1, 6:] = 0
    return input_ids, attention_mask


def random_labels(ns: int, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, C, (B, T - 1, T - 1, ns), generator=g)


def test_logits_shapes_for_training_and_inference():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    sampled = model(input_ids, attention_mask, relation_ids=torch.tensor([1, 3]))
    assert sampled.logits.shape == (B, T - 1, T - 1, 2, C)
    assert sampled.loss is None
    every = model(input_ids, attention_mask)
    assert every.logits.shape == (B, T - 1, T - 1, K, C)
    # The sampled columns are exactly those columns of the full scoring.
    torch.testing.assert_close(every.logits[..., [1, 3], :], sampled.logits)


def test_table_mask_covers_text_tokens_only():
    _, attention_mask = inputs()
    mask = table_mask(attention_mask)
    assert mask.shape == (B, T - 1)
    assert mask.sum(dim=1).tolist() == [T - 2, 6 - 2]  # [CLS] and [SEP] excluded


def test_factored_head_equals_the_concatenation_head():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    hidden = model.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, 1:]
    relation_ids = torch.tensor([0, 2, 4])
    head = model.head
    # The reference: W [s_i; o_j] + b on the materialised (B, L, L, 2d) concatenation.
    L = hidden.shape[1]
    pairs = torch.cat(
        [hidden[:, :, None, :].expand(-1, -1, L, -1), hidden[:, None, :, :].expand(-1, L, -1, -1)], dim=-1
    )
    w = torch.cat([head.w_s.weight, head.w_o.weight], dim=1)  # (d_e, 2d)
    z = F.relu(pairs @ w.T + head.w_s.bias)
    r = head.relation_matrix.view(16, K, C)[:, relation_ids]
    reference = torch.einsum("bijd,dnc->bijnc", z, r)
    torch.testing.assert_close(head(hidden, relation_ids), reference, rtol=1e-5, atol=1e-5)


def test_loss_is_the_mean_over_scored_cells_and_ignores_padding():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    labels = random_labels(2)
    out = model(input_ids, attention_mask, torch.tensor([0, 1]), labels)
    valid = table_mask(attention_mask)
    cells = (valid[:, :, None] & valid[:, None, :])[..., None].expand_as(labels)
    expected = F.cross_entropy(out.logits[cells], labels[cells])
    torch.testing.assert_close(out.loss, expected)
    # Labels in padding cells do not matter.
    noisy = labels.clone()
    noisy[~cells] = 7
    torch.testing.assert_close(model(input_ids, attention_mask, torch.tensor([0, 1]), noisy).loss, out.loss)


def test_positive_weight_gives_the_weighted_mean_over_scored_cells():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    labels = random_labels(2)
    plain = model(input_ids, attention_mask, torch.tensor([0, 1]), labels)
    model.config.positive_weight = 5.0
    weighted = model(input_ids, attention_mask, torch.tensor([0, 1]), labels).loss
    valid = table_mask(attention_mask)
    cells = (valid[:, :, None] & valid[:, None, :])[..., None].expand_as(labels)
    losses = F.cross_entropy(plain.logits[cells], labels[cells], reduction="none")
    w = torch.where(labels[cells] == 0, 1.0, 5.0)
    torch.testing.assert_close(weighted, (w * losses).sum() / w.sum())
    assert not torch.isclose(weighted, plain.loss)


def test_loss_does_not_scale_with_ns():
    model = tiny_model()
    with torch.no_grad():  # every relation gets relation 0's column block, so each column scores alike
        r = model.head.relation_matrix.view(16, K, C)
        r[:] = r[:, :1, :]
    input_ids, attention_mask = inputs()
    one = random_labels(1)
    loss_1 = model(input_ids, attention_mask, torch.tensor([0]), one).loss
    loss_4 = model(input_ids, attention_mask, torch.tensor([0, 1, 2, 3]), one.expand(-1, -1, -1, 4)).loss
    torch.testing.assert_close(loss_1, loss_4)


def test_gradients_reach_only_the_sampled_columns_of_r():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    sampled = [1, 4]
    model(input_ids, attention_mask, torch.tensor(sampled), random_labels(2)).loss.backward()
    grad = model.head.relation_matrix.grad.view(16, K, C)
    for k in range(K):
        assert bool(grad[:, k].abs().sum() > 0) == (k in sampled), k


def test_row_blocks_give_the_same_scores_as_the_full_table():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    full = model(input_ids, attention_mask).logits
    torch.testing.assert_close(model(input_ids, attention_mask, row_block=3).logits, full)
    whole, blocked = (
        model.predict(input_ids, attention_mask),
        model.predict(input_ids, attention_mask, row_block=3),
    )
    assert torch.equal(whole.index, blocked.index) and torch.equal(whole.classes, blocked.classes)
    torch.testing.assert_close(whole.probs, blocked.probs)


def test_predict_returns_non_empty_text_cells_with_their_argmax():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    cells = model.predict(input_ids, attention_mask)
    logits = model(input_ids, attention_mask).logits
    b, i, j, k = cells.index.unbind(dim=1)
    assert bool((cells.classes > 0).all())
    assert torch.equal(cells.classes, logits[b, i, j, k].argmax(dim=-1))
    lengths = torch.tensor([T - 2, 4])
    assert bool((i < lengths[b]).all() and (j < lengths[b]).all())  # never a [SEP] or padding cell
    torch.testing.assert_close(cells.probs.sum(dim=1), torch.ones(len(b)))


def test_save_then_load_gives_identical_scores(tmp_path):
    encoder_dir = build_tiny_encoder(["糖尿病患者服用二甲双胍"], tmp_path / "enc")
    config = NRSOneRelConfig(
        encoder="tiny", relations=["a", "b"], head_types=["X", "X"], tail_types=["Y", "Y"]
    )
    model = NRSOneRelModel(config, AutoModel.from_pretrained(encoder_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    model.save_pretrained(tmp_path / "model", tokenizer)
    loaded, loaded_tokenizer = NRSOneRelModel.from_pretrained(tmp_path / "model")
    assert loaded.config == config
    assert loaded_tokenizer.get_vocab() == tokenizer.get_vocab()
    ids = torch.tensor([tokenizer("糖尿病患者")["input_ids"]])
    mask = torch.ones_like(ids)
    assert torch.equal(loaded(ids, mask).logits, model(ids, mask).logits)


def test_inconsistent_config_and_bad_directory_raise_model_error(tmp_path):
    encoder = BertModel(BertConfig(vocab_size=9, hidden_size=8, num_hidden_layers=1, num_attention_heads=2))
    with pytest.raises(ModelError, match="2 relations but 1 head types"):
        NRSOneRelModel(
            NRSOneRelConfig(relations=["a", "b"], head_types=["X"], tail_types=["Y", "Y"]), encoder
        )
    with pytest.raises(ModelError, match="not a model directory"):
        NRSOneRelModel.from_pretrained(tmp_path)
