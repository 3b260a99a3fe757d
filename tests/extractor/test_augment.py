from __future__ import annotations

import numpy as np
import pytest
import torch

from extractor.augment import Unit, adversarial_embeddings, mask_tokens, mention_pool, replace_mentions, units
from extractor.schema import Entity, Example, Triple


def mention(text: str, within: str, kind: str) -> Entity:
    start = within.index(text)
    return Entity(start, start + len(text), text, kind)


def example(text: str, *triples: tuple[str, str, str, str, str]) -> Example:
    """`triples` as (head, head type, relation, tail, tail type), each mention's first occurrence."""
    return Example(
        text, [Triple(mention(h, text, ht), r, mention(t, text, tt)) for h, ht, r, t, tt in triples], "d", "s"
    )


FIRST = example(
    "二甲双胍可治疗2型糖尿病，常见胃肠道反应。",
    ("二甲双胍", "Drug", "Drug_Disease", "2型糖尿病", "Disease"),
    ("2型", "Class", "Class_Disease", "2型糖尿病", "Disease"),  # nested inside the disease
    ("胃肠道反应", "ADE", "ADE_Drug", "二甲双胍", "Drug"),
)
SECOND = example(
    "胰岛素用于妊娠期糖尿病，可致低血糖。",
    ("胰岛素", "Drug", "Drug_Disease", "妊娠期糖尿病", "Disease"),
    ("妊娠期", "Class", "Class_Disease", "妊娠期糖尿病", "Disease"),
    ("低血糖", "ADE", "ADE_Drug", "胰岛素", "Drug"),
)


def test_overlapping_mentions_form_one_unit_shaped_by_their_types_and_inner_triples():
    found = units(FIRST)
    assert [(start, end) for start, end, _, _ in found] == [(0, 4), (7, 12), (15, 20)]
    _, _, group, shape = found[1]
    assert group == [(7, 12, "Disease"), (7, 9, "Class")]  # the longest first
    assert shape == (("Disease", "Class"), ((1, "Class_Disease", 0),))


def test_the_pool_holds_units_of_each_shape_that_has_a_choice_of_texts():
    pool = mention_pool([FIRST, SECOND, FIRST])
    assert pool[(("Disease", "Class"), ((1, "Class_Disease", 0),))] == [
        Unit("2型糖尿病", ((0, 5), (0, 2))),
        Unit("妊娠期糖尿病", ((0, 6), (0, 3))),
    ]
    assert pool[(("Drug",), ())] == [Unit("二甲双胍", ((0, 4),)), Unit("胰岛素", ((0, 3),))]
    assert len(pool) == 3  # drugs, classed diseases, adverse events
    assert mention_pool([FIRST, FIRST]) == {}  # one text per shape: nothing to choose
    untyped = [example(e.text, *[(t.head.text, "", t.relation, t.tail.text, "") for t in e.triples])
               for e in (FIRST, SECOND)]  # fmt: skip
    assert mention_pool(untyped) == {}  # untyped mentions are never replaced


def test_every_unit_is_replaced_and_every_triple_holds_in_the_new_text():
    replaced = replace_mentions(FIRST, mention_pool([FIRST, SECOND]), 1.0, np.random.default_rng(0))
    assert replaced.text == "胰岛素可治疗妊娠期糖尿病，常见低血糖。"
    assert [t.key() for t in replaced.triples] == [
        ("胰岛素", "Drug_Disease", "妊娠期糖尿病"),
        ("妊娠期", "Class_Disease", "妊娠期糖尿病"),
        ("低血糖", "ADE_Drug", "胰岛素"),
    ]
    for triple in replaced.triples:
        for entity in (triple.head, triple.tail):
            assert replaced.text[entity.start : entity.end] == entity.text
    assert (replaced.doc_id, replaced.sent_id) == ("d", "s")


def test_rate_zero_or_no_choice_leaves_the_example_as_it_is():
    pool = mention_pool([FIRST, SECOND])
    assert replace_mentions(FIRST, pool, 0.0, np.random.default_rng(0)) is FIRST
    assert replace_mentions(FIRST, {}, 1.0, np.random.default_rng(0)) is FIRST


def test_a_rate_replaces_about_that_share_of_units():
    pool, rng = mention_pool([FIRST, SECOND]), np.random.default_rng(1)
    drugs = sum(replace_mentions(FIRST, pool, 0.3, rng).text.startswith("胰岛素") for _ in range(2000))
    assert 500 < drugs < 700  # 600 expected


def test_token_masking_hides_a_share_of_the_characters_and_never_the_special_tokens_or_padding():
    ids = torch.tensor([[101, 5, 6, 7, 8, 9, 102], [101, 5, 6, 102, 0, 0, 0]])
    attention = (ids != 0).long()
    everything = mask_tokens(ids, attention, 1.0, 103, np.random.default_rng(0))
    assert everything.tolist() == [[101, 103, 103, 103, 103, 103, 102], [101, 103, 103, 102, 0, 0, 0]]
    assert torch.equal(mask_tokens(ids, attention, 0.0, 103, np.random.default_rng(0)), ids)

    long = torch.randint(200, 300, (8, 202))
    masked = mask_tokens(long, torch.ones_like(long), 0.25, 103, np.random.default_rng(1))
    share = (masked[:, 1:-1] == 103).float().mean().item()
    assert 0.2 < share < 0.3
    assert torch.equal(masked[masked != 103], long[masked != 103])  # the others are untouched


def test_adversarial_embeddings_move_the_matrix_that_far_up_its_gradient_and_restore_it_exactly():
    weight = torch.nn.Parameter(torch.randn(50, 8))
    weight.grad = torch.randn(50, 8)
    before = weight.detach().clone()
    with adversarial_embeddings(weight, 0.5):
        moved = weight.detach() - before
        assert torch.linalg.vector_norm(moved).item() == pytest.approx(0.5, rel=1e-4)
        assert torch.nn.functional.cosine_similarity(moved.flatten(), weight.grad.flatten(), dim=0) > 0.9999
    assert torch.equal(weight.detach(), before)

    weight.grad = torch.zeros(50, 8)  # nothing to follow: left as it is
    with adversarial_embeddings(weight, 0.5):
        assert torch.equal(weight.detach(), before)
