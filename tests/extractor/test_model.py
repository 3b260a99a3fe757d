"""NRS-OneRel: shapes, the factored head, per-sentence relations, the loss, gradients, blocks, save/load."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from extractor.configuration import NRSOneRelConfig
from extractor.encoders.tiny import build_tiny_encoder
from extractor.losses import IGNORE_INDEX, cell_classes, table_loss
from extractor.model import (
    CONFIG_NAME,
    MAX_DISTANCE,
    WEIGHTS_NAME,
    AddBetweenMeans,
    NRSOneRelModel,
    distance_bucket,
    table_mask,
)
from nrskg.errors import ModelError

K, C, B, T = 5, 3, 2, 9  # C: the default loss scores 3 marks per cell


def tiny_model(
    dropout: float = 0.0,
    loss: str = "mcce",
    distance_buckets: int = 0,
    mention_column: bool = False,
    between_context: bool = False,
) -> NRSOneRelModel:
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
        loss=loss,
        distance_buckets=distance_buckets,
        mention_column=mention_column,
        between_context=between_context,
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
    """Class ids (8 classes: sets of marks), whatever the loss."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 8, (B, T - 1, T - 1, ns), generator=g)


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
    assert tiny_model(loss="softmax")(input_ids, attention_mask).logits.shape == (B, T - 1, T - 1, K, 8)


def test_each_sentence_scores_its_own_relations():
    model = tiny_model()
    input_ids, attention_mask = inputs()
    every = model(input_ids, attention_mask).logits
    per_sentence = torch.tensor([[0, 3], [2, 4]])  # (B, NS)
    got = model(input_ids, attention_mask, relation_ids=per_sentence).logits
    for row, ids in enumerate(per_sentence):
        torch.testing.assert_close(got[row], every[row][..., ids, :])


def test_the_mention_column_is_trained_after_the_relations_and_never_extracted():
    assert tiny_model().head.relation_matrix.shape[1] == K * C  # without it: the K relations
    model = tiny_model(mention_column=True)
    assert model.head.relation_matrix.shape[1] == (K + 1) * C
    input_ids, attention_mask = inputs()
    with_mentions = model(input_ids, attention_mask, relation_ids=torch.tensor([1, K]))
    assert with_mentions.logits.shape == (B, T - 1, T - 1, 2, C)
    assert model(input_ids, attention_mask).logits.shape == (B, T - 1, T - 1, K, C)  # all K, not the column
    torch.nn.init.constant_(model.head.relation_matrix, 0.0)
    with torch.no_grad():  # only the mention column marks every cell: nothing is extracted from it
        model.head.relation_matrix.view(16, K + 1, C)[:, K] = 1.0
        model.head.w_s.bias.fill_(1.0)
    assert len(model.predict(input_ids, attention_mask).index) == 0


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
    r = head.relation_matrix.view(16, -1, C)[:, relation_ids]
    reference = torch.einsum("bijd,dnc->bijnc", z, r)
    torch.testing.assert_close(head(hidden, relation_ids), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", ["mcce", "softmax", "bce", "focal"])
def test_loss_is_the_configured_loss_over_text_cells_and_ignores_padding(loss: str):
    model = tiny_model(loss=loss)
    input_ids, attention_mask = inputs()
    labels = random_labels(2)
    out = model(input_ids, attention_mask, torch.tensor([0, 1]), labels)
    valid = table_mask(attention_mask)
    cells = (valid[:, :, None] & valid[:, None, :])[..., None].expand_as(labels)
    expected = table_loss(loss, out.logits, labels.masked_fill(~cells, IGNORE_INDEX))
    torch.testing.assert_close(out.loss, expected)
    # Labels in padding cells do not matter.
    noisy = labels.clone()
    noisy[~cells] = 7
    torch.testing.assert_close(model(input_ids, attention_mask, torch.tensor([0, 1]), noisy).loss, out.loss)


@pytest.mark.parametrize("sampled", [[1, 4], [[1, 4], [0, 1]]], ids=["batch", "per-sentence"])
def test_gradients_reach_only_the_sampled_columns_of_r(sampled: list):
    model = tiny_model(mention_column=True)
    input_ids, attention_mask = inputs()
    model(input_ids, attention_mask, torch.tensor(sampled), random_labels(2)).loss.backward()
    grad = model.head.relation_matrix.grad.view(16, K + 1, C)  # the K relations, then the mention column
    scored = set(torch.tensor(sampled).flatten().tolist())
    for k in range(K + 1):
        assert bool(grad[:, k].abs().sum() > 0) == (k in scored), k


def test_distance_buckets_split_by_sign_and_are_exact_near():
    distance = torch.arange(-2 * MAX_DISTANCE, 2 * MAX_DISTANCE + 1)
    bucket = distance_bucket(distance, 32)
    assert int(bucket.min()) == 0 and int(bucket.max()) == 31
    assert bool((bucket[distance <= 0] < 16).all() and (bucket[distance > 0] >= 16).all())
    near = distance.abs() < 8
    assert bucket[near].tolist() == (distance[near].abs() + 16 * (distance[near] > 0)).tolist()
    for side in (distance <= 0, distance > 0):  # farther never falls in a nearer bucket
        by_size = bucket[side][distance[side].abs().argsort()]
        assert bool((by_size[1:] >= by_size[:-1]).all())
    assert distance_bucket(torch.tensor([MAX_DISTANCE, 10 * MAX_DISTANCE]), 32).tolist() == [31, 31]


def test_distance_term_starts_at_zero_then_tells_pairs_apart_by_distance():
    plain, with_distance = tiny_model(), tiny_model(distance_buckets=32)
    with_distance.load_state_dict(plain.state_dict(), strict=False)  # the same weights, the distance at 0
    input_ids, attention_mask = inputs()
    torch.testing.assert_close(
        with_distance(input_ids, attention_mask).logits, plain(input_ids, attention_mask).logits
    )
    # The same vector at every position: without distance every pair scores alike, with it pairs differ by
    # their distance only.
    same = torch.randn(1, 1, 32).expand(1, T - 1, 32)
    every = torch.arange(K)
    torch.nn.init.normal_(with_distance.head.distance.weight)
    flat = plain.head(same, every)[0, :, :, 0]  # (L, L, C)
    torch.testing.assert_close(flat, flat[0, 0].expand_as(flat))
    apart = with_distance.head(same, every)[0, :, :, 0]
    assert not torch.allclose(apart[0, 1], apart[0, 2]) and not torch.allclose(apart[1, 0], apart[0, 1])
    torch.testing.assert_close(apart[0, 1], apart[2, 3])  # only the distance tells them apart


@pytest.mark.parametrize("first, stop", [(0, 7), (2, 5), (6, 7)])
def test_between_means_are_the_means_of_the_tokens_strictly_between(first: int, stop: int):
    c = torch.randn(2, 7, 4, dtype=torch.float64)
    sums = F.pad(c.cumsum(dim=1), (0, 0, 1, 0))
    expected = torch.zeros(2, stop - first, 7, 4, dtype=torch.float64)
    for i in range(first, stop):
        for j in range(7):
            inside = c[:, min(i, j) + 1 : max(i, j)]
            if inside.shape[1]:
                expected[:, i - first, j] = inside.mean(dim=1)
    pair = torch.randn(2, stop - first, 7, 4, dtype=torch.float64)
    torch.testing.assert_close(AddBetweenMeans.apply(pair.clone(), sums, first, stop), pair + expected)


def test_between_means_into_bf16_pair_features_keep_the_precision_of_a_near_pair_far_along():
    # Token vectors share a direction, so the prefix sums grow along the sentence; a mean over one token at
    # position 100 is the difference of two sums near 100: taken in bf16 it would lose a fifth of its size.
    c = 1.0 + 0.1 * torch.randn(1, 129, 8, dtype=torch.float64)
    sums = F.pad(c.cumsum(dim=1), (0, 0, 1, 0))
    pair = torch.zeros(1, 29, 129, 8, dtype=torch.bfloat16)
    added = AddBetweenMeans.apply(pair, sums.float(), 100, 129)  # rows 100..128
    torch.testing.assert_close(added[0, 0, 102].double(), c[0, 101], rtol=0.01, atol=0.0)
    torch.testing.assert_close(added[0, 28, 126].double(), c[0, 127], rtol=0.01, atol=0.0)


@pytest.mark.parametrize("first, stop", [(0, 7), (2, 5), (6, 7)])
def test_between_means_backward_is_the_gradient(first: int, stop: int):
    pair = torch.randn(2, stop - first, 7, 3, dtype=torch.float64, requires_grad=True)
    sums = torch.randn(2, 8, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, s: AddBetweenMeans.apply(p * 1, s, first, stop), (pair, sums))


def test_between_context_starts_at_zero_and_learns():
    plain, between = tiny_model(distance_buckets=32), tiny_model(distance_buckets=32, between_context=True)
    between.load_state_dict(plain.state_dict(), strict=False)  # the same weights, W_c at 0
    input_ids, attention_mask = inputs()
    torch.testing.assert_close(
        between(input_ids, attention_mask).logits, plain(input_ids, attention_mask).logits
    )
    labels = torch.zeros(B, T - 1, T - 1, K, dtype=torch.long)
    labels[:, 0, 4, 1] = 1
    between(input_ids, attention_mask, labels=labels).loss.backward()
    assert float(between.head.between.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("distance_buckets, between_context", [(0, False), (32, False), (32, True)])
def test_row_blocks_give_the_same_scores_as_the_full_table(distance_buckets: int, between_context: bool):
    model = tiny_model(distance_buckets=distance_buckets, between_context=between_context)
    if between_context:
        torch.nn.init.normal_(model.head.between.weight)
    input_ids, attention_mask = inputs()
    full = model(input_ids, attention_mask).logits
    torch.testing.assert_close(model(input_ids, attention_mask, row_block=3).logits, full)
    whole, blocked = (
        model.predict(input_ids, attention_mask),
        model.predict(input_ids, attention_mask, row_block=3),
    )
    assert torch.equal(whole.index, blocked.index) and torch.equal(whole.classes, blocked.classes)
    torch.testing.assert_close(whole.mark_probs, blocked.mark_probs)


@pytest.mark.parametrize("loss", ["mcce", "softmax"])
def test_predict_returns_the_non_empty_text_cells_with_their_classes(loss: str):
    model = tiny_model(loss=loss)
    input_ids, attention_mask = inputs()
    cells = model.predict(input_ids, attention_mask)
    logits = model(input_ids, attention_mask).logits
    b, i, j, k = cells.index.unbind(dim=1)
    assert len(b) and bool((cells.classes > 0).all())
    assert torch.equal(cells.classes, cell_classes(loss, logits[b, i, j, k]))
    lengths = torch.tensor([T - 2, 4])
    assert bool((i < lengths[b]).all() and (j < lengths[b]).all())  # never a [SEP] or padding cell
    assert cells.mark_probs.shape == (len(b), 3)
    assert bool(((cells.mark_probs >= 0) & (cells.mark_probs <= 1)).all())
    # Every class above zero has a mark, and a cell's predicted marks are its likely ones.
    assert bool((cells.mark_probs.max(dim=1).values > 0.0).all())


@pytest.mark.parametrize("distance_buckets, between_context", [(0, False), (32, False), (32, True)])
def test_save_then_load_gives_identical_scores(tmp_path, distance_buckets: int, between_context: bool):
    encoder_dir = build_tiny_encoder(["糖尿病患者服用二甲双胍"], tmp_path / "enc")
    config = NRSOneRelConfig(
        encoder="tiny",
        relations=["a", "b"],
        head_types=["X", "X"],
        tail_types=["Y", "Y"],
        distance_buckets=distance_buckets,
        between_context=between_context,
    )
    model = NRSOneRelModel(config, AutoModel.from_pretrained(encoder_dir)).eval()
    for zero_start in (model.head.distance, model.head.between):  # trained, not their zero start
        if zero_start is not None:
            torch.nn.init.normal_(zero_start.weight)
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    model.save_pretrained(tmp_path / "model", tokenizer)
    loaded, loaded_tokenizer = NRSOneRelModel.from_pretrained(tmp_path / "model")
    assert loaded.config == config
    assert loaded_tokenizer.get_vocab() == tokenizer.get_vocab()
    ids = torch.tensor([tokenizer("糖尿病患者")["input_ids"]])
    mask = torch.ones_like(ids)
    assert torch.equal(loaded(ids, mask).logits, model(ids, mask).logits)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_saved_weights_have_the_mode_the_umask_gives_a_new_file(tmp_path, umask: int, mode: int):
    """A registry is shared with its models: the weights are as readable as config.json beside them."""
    encoder_dir = build_tiny_encoder(["糖尿病患者"], tmp_path / "enc")
    config = NRSOneRelConfig(encoder="tiny", relations=["a"], head_types=["X"], tail_types=["Y"])
    model = NRSOneRelModel(config, AutoModel.from_pretrained(encoder_dir))
    previous = os.umask(umask)
    try:
        model.save_pretrained(tmp_path / "model", AutoTokenizer.from_pretrained(encoder_dir))
    finally:
        os.umask(previous)
    modes = {
        name: stat.S_IMODE((tmp_path / "model" / name).stat().st_mode) for name in (WEIGHTS_NAME, CONFIG_NAME)
    }
    assert modes == {WEIGHTS_NAME: mode, CONFIG_NAME: mode}


def test_a_checkpoint_from_before_the_loss_option_loads_as_the_softmax_model(tmp_path):
    encoder_dir = build_tiny_encoder(["糖尿病患者"], tmp_path / "enc")
    config = NRSOneRelConfig(
        encoder="tiny",
        relations=["a"],
        head_types=["X"],
        tail_types=["Y"],
        loss="softmax",
        distance_buckets=0,
        mention_column=False,
        between_context=False,
    )  # what such a checkpoint was
    model = NRSOneRelModel(config, AutoModel.from_pretrained(encoder_dir))
    model.save_pretrained(tmp_path / "model", AutoTokenizer.from_pretrained(encoder_dir))
    written = json.loads((tmp_path / "model" / CONFIG_NAME).read_text())
    del written["loss"], written["distance_buckets"], written["mention_column"], written["between_context"]
    written["num_labels"] = 8  # what such a checkpoint carried instead
    (tmp_path / "model" / CONFIG_NAME).write_text(json.dumps(written))
    loaded, _ = NRSOneRelModel.from_pretrained(tmp_path / "model")
    assert loaded.config.loss == "softmax" and loaded.config.num_labels == 8
    assert loaded.config.distance_buckets == 0 and loaded.head.distance is None
    assert not loaded.config.mention_column and loaded.head.relation_matrix.shape[1] == 8
    assert not loaded.config.between_context and loaded.head.between is None


def test_inconsistent_config_and_bad_directory_raise_model_error(tmp_path):
    encoder = BertModel(BertConfig(vocab_size=9, hidden_size=8, num_hidden_layers=1, num_attention_heads=2))
    with pytest.raises(ModelError, match="2 relations but 1 head types"):
        NRSOneRelModel(
            NRSOneRelConfig(relations=["a", "b"], head_types=["X"], tail_types=["Y", "Y"]), encoder
        )
    for buckets in (1, -2):
        with pytest.raises(ModelError, match=f"distance_buckets is {buckets}"):
            NRSOneRelModel(
                NRSOneRelConfig(
                    relations=["a"], head_types=["X"], tail_types=["Y"], distance_buckets=buckets
                ),
                encoder,
            )
    with pytest.raises(ModelError, match="not a model directory"):
        NRSOneRelModel.from_pretrained(tmp_path)
