"""The tiny encoder: its seed fixes its own weights and leaves the caller's random generator alone."""

from __future__ import annotations

from pathlib import Path

import torch

from extractor.configuration import NRSOneRelConfig
from extractor.encoders import resolve_encoder
from extractor.encoders.tiny import TinyEncoderConfig, build_tiny_encoder
from extractor.model import build_model

TEXTS = ["二甲双胍用于2型糖尿病。", "胰岛素可引起低血糖。"]
SMALL = TinyEncoderConfig(hidden=32, layers=1, heads=2, intermediate=37, max_positions=64)
CONFIG = NRSOneRelConfig(
    relations=["Drug_Disease", "ADE_Drug"], head_types=["Drug", "ADE"], tail_types=["Disease", "Drug"], d_e=16
)


def head_after_seeding(seed: int, workdir: Path) -> dict[str, torch.Tensor]:
    """What `extractor.train.train` does before its first step: seed, build the tiny encoder, the head."""
    torch.manual_seed(seed)
    model, _ = build_model(CONFIG, resolve_encoder("tiny", TEXTS, workdir, SMALL))
    return {name: p.detach().clone() for name, p in model.head.named_parameters()}


def test_two_training_seeds_give_two_different_heads(tmp_path: Path) -> None:
    one = head_after_seeding(1, tmp_path / "s1")
    two = head_after_seeding(2, tmp_path / "s2")
    again = head_after_seeding(1, tmp_path / "s1-again")
    assert one.keys() == two.keys() and len(one) > 0
    assert all(not torch.equal(one[name], two[name]) for name in one if one[name].std() > 0)
    assert all(torch.equal(one[name], again[name]) for name in one)


def test_building_the_encoder_leaves_the_global_generator_where_it_was(tmp_path: Path) -> None:
    torch.manual_seed(5)
    before = torch.get_rng_state()
    build_tiny_encoder(TEXTS, tmp_path / "enc", SMALL)
    assert torch.equal(torch.get_rng_state(), before)


def test_the_encoder_weights_depend_on_its_own_seed_only(tmp_path: Path) -> None:
    def weights(global_seed: int, name: str) -> torch.Tensor:
        torch.manual_seed(global_seed)
        path = build_tiny_encoder(TEXTS, tmp_path / name, SMALL)
        return build_model(CONFIG, str(path))[0].encoder.embeddings.word_embeddings.weight.detach()

    assert torch.equal(weights(1, "a"), weights(2, "b"))
