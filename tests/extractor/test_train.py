"""Training: the checkpoint folder, metrics and version, reproducibility, and the overfit acceptance test."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from extractor import train as train_module
from extractor import trained_on
from extractor.configuration import TINY_TRAIN, TrainConfig, load_config, with_settings
from extractor.datasets import load
from extractor.datasets.corpora import Corpus
from extractor.encoders import TinyEncoderConfig, resolve_encoder
from extractor.evaluate import evaluate
from extractor.infer import Extractor
from extractor.model import NRSOneRelModel
from extractor.train import split_as_trained, train
from nrskg.errors import DataFormatError, ModelError
from tests.conftest import checkpoint

SAMPLE = Path(__file__).resolve().parents[2] / "flows" / "sample" / "annotated.jsonl"
SMALL = TinyEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64)


def sample_subset(tmp_path: Path, per_document: int) -> Path:
    """The first `per_document` sentences of each document of the project's annotated sample."""
    taken: dict[str, int] = {}
    lines = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line).get("doc_id", "")
        if taken.get(doc, 0) < per_document:
            taken[doc] = taken.get(doc, 0) + 1
            lines.append(line)
    path = tmp_path / "subset.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quick(**changes) -> TrainConfig:
    """A few steps of the tiny preset: enough to exercise the loop, not to learn."""
    return with_settings(TINY_TRAIN, **{"d_e": 16, "epochs": 2, "device": "cpu", **changes})


def test_training_writes_an_offline_loadable_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = sample_subset(tmp_path, 3)
    result = train(data, "jsonl", "tiny", tmp_path / "model", quick(val_fraction=0.3), SMALL, progress=False)

    out = tmp_path / "model"
    assert {"config.json", "model.safetensors", "metrics.json", "metrics.jsonl"} <= {
        p.name for p in out.iterdir()
    }
    assert (out / "encoder" / "config.json").is_file() and (out / "encoder" / "tokenizer.json").is_file()
    config, train_config = load_config(out / "config.json")
    assert config.relations == sorted(config.relations) and len(config.relations) >= 5
    assert len(config.head_types) == len(config.tail_types) == len(config.relations)
    assert train_config is not None and train_config.val_fraction == 0.3
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", result.model_version)
    assert config.model_version == result.model_version

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["model_version"] == result.model_version
    assert metrics["selected_on"] == "validation" and metrics["val_documents"] >= 1
    assert metrics["steps"] == result.steps > 0
    assert {"best_val_f1", "train_f1", "wall_time_s", "best_step"} <= set(metrics)
    # The default minimum confidence is calibrated on the validation curve and stored with the model.
    curve = metrics["confidence_curve"]
    assert [p["min_confidence"] for p in curve] == sorted(p["min_confidence"] for p in curve)
    assert config.min_confidence == metrics["min_confidence"]["min_confidence"]
    edges = metrics["edges_at_min_confidence"]  # the graph a calibrated extraction of validation would give
    assert edges["predicted"] <= metrics["min_confidence"]["predicted"] and 0.0 <= edges["recall"] <= 1.0
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]  # one evaluation per epoch
    assert all(r["train_loss"] > 0 for r in log)

    extractor = Extractor.load(out, device="cpu")
    assert extractor.model_version == result.model_version
    assert len(extractor.extract(["二甲双胍可用于治疗2型糖尿病。"])) == 1
    # The checkpoint records the sentences it was trained on, and no validation one.
    train_docs, val_docs = split_as_trained(data, "jsonl", quick(val_fraction=0.3))
    assert trained_on.read(out) == {trained_on.digest(text) for text in trained_on.texts(train_docs)}
    assert all(trained_on.digest(e.text) not in trained_on.read(out) for d in val_docs for e in d.examples)


def test_a_document_trained_on_is_seen_when_other_window_settings_cut_it_into_other_windows(tmp_path):
    """A retrained model with other --window-chars holds out a Ruijin document the current model trained on,
    cut into windows the current model never saw: its whole text is recorded, so it is still left out."""
    ruijin = Path(__file__).parent / "fixtures" / "datasets" / "ruijin"
    config = quick(val_fraction=0.0, max_steps=1, window_chars=16, window_stride=8)
    train(ruijin, "ruijin", "tiny", tmp_path / "m", config, SMALL, progress=False)
    [doc], _ = split_as_trained(ruijin, "ruijin", quick(val_fraction=0.0, window_chars=24, window_stride=12))
    assert not {trained_on.digest(e.text) for e in doc.examples} & trained_on.read(tmp_path / "m")
    assert trained_on.unseen([doc], trained_on.read(tmp_path / "m")) == []


def test_max_steps_caps_training_and_the_same_seed_gives_the_same_weights(tmp_path):
    data = sample_subset(tmp_path, 2)
    config = quick(val_fraction=0.0, max_steps=3, epochs=5)
    first = train(data, "jsonl", "tiny", tmp_path / "a", config, SMALL, progress=False)
    second = train(data, "jsonl", "tiny", tmp_path / "b", config, SMALL, progress=False)
    assert first.steps == second.steps == 3
    assert first.metrics["selected_on"] == "training sample"
    # The version's hash part is a digest of the weights.
    assert first.model_version.split("-")[1] == second.model_version.split("-")[1]


@pytest.mark.parametrize(("minutes", "steps", "stopped_by"), [(1e-6, 1, "max_minutes"), (60.0, 4, "steps")])
def test_a_wall_time_budget_stops_at_the_last_evaluation_that_fits(tmp_path, minutes, steps, stopped_by):
    """A budget of microseconds ends training after its first evaluation (one always runs), with the
    checkpoint and metrics of a full run; an hour leaves the 4 steps of this run alone."""
    data = sample_subset(tmp_path, 2)
    config = quick(val_fraction=0.0, max_steps=4, epochs=5, eval_every=1, max_minutes=minutes)
    result = train(data, "jsonl", "tiny", tmp_path / "m", config, SMALL, progress=False)
    assert (result.steps, result.metrics["stopped_by"]) == (steps, stopped_by)
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert len((tmp_path / "m" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()) == steps


def test_the_budget_counts_the_next_interval_and_the_final_scoring():
    # 51 s gone, 5 s an interval, 2 s an evaluation: the next interval and the final scoring end at 60 s.
    assert train_module.over_budget(51.0, 5.0, 2.0, 59.9)
    assert not train_module.over_budget(51.0, 5.0, 2.0, 60.0)


def test_bad_encoder_and_data_raise_our_errors(tmp_path):
    with pytest.raises(ModelError, match="not-a-real/encoder"):
        resolve_encoder("not-a-real/encoder", [], tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "没有关系的句子。", "triples": []}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="no relation triples"):
        train(empty, "jsonl", "tiny", tmp_path / "m", quick(val_fraction=0.0), SMALL, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize(("every_s", "level"), [(3600.0, logging.DEBUG), (0.0, logging.INFO)])
def test_a_log_gets_no_bar_and_an_evaluation_line_at_most_every_progress_line_s(
    tmp_path, monkeypatch, caplog, capsys, every_s, level
):
    """stderr under pytest is not a terminal, as in `nrskg train 2> train.log` or a Prefect worker."""
    monkeypatch.setattr(train_module, "PROGRESS_LINE_S", every_s)
    caplog.set_level(logging.DEBUG, logger="extractor.train")
    train(sample_subset(tmp_path, 2), "jsonl", "tiny", tmp_path / "model", quick(val_fraction=0.0), SMALL)
    assert "train:" not in capsys.readouterr().err  # tqdm's "train:  50%|█████     | 3/6 [...]"
    evaluations = [r.levelno for r in caplog.records if r.getMessage().startswith("step ")]
    assert evaluations == [level, level]  # one per epoch


def test_tiny_encoder_overfits_the_annotated_sample(tmp_path):
    """The acceptance test: train F1 >= 0.95 on >= 50 sentences of the project's sample, on the CPU."""
    config = dataclasses.replace(TINY_TRAIN, val_fraction=0.0, eval_every=140, device="cpu")
    result = train(SAMPLE, "jsonl", "tiny", tmp_path / "model", config, progress=False)
    print(f"overfit: train F1 {result.train_f1:.4f} in {result.wall_time_s:.1f} s, {result.steps} steps")
    assert result.metrics["train_windows"] >= 50
    assert result.train_f1 >= 0.95
    # The saved checkpoint reproduces the figure when loaded again.
    examples = [e for doc in load(SAMPLE, "jsonl") for e in doc.examples]
    assert evaluate(tmp_path / "model", examples).micro.f1 == pytest.approx(result.train_f1)


def test_unknown_loss_or_ns_scope_fails_before_training(tmp_path):
    data = sample_subset(tmp_path, 1)
    with pytest.raises(ModelError, match="unknown loss 'hinge'"):
        train(data, "jsonl", "tiny", tmp_path / "m", quick(loss="hinge"), SMALL, progress=False)
    with pytest.raises(ModelError, match="unknown NS scope 'corpus'"):
        train(data, "jsonl", "tiny", tmp_path / "m", quick(ns_scope="corpus"), SMALL, progress=False)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("epochs", 0), ("batch_size", 0), ("patience", 0), ("max_steps", -1), ("eval_every", -1),
        ("val_fraction", 1.5), ("target_precision", 2.0), ("window_chars", 0), ("window_stride", 0),
        ("window_stride", 200), ("dropout", 2.0), ("pair_dropout", -0.1), ("d_e", 0), ("lr", -1.0),
        ("encoder_lr", -1e-4), ("warmup_ratio", 1.0), ("train_eval_limit", -1),
    ],
)  # fmt: skip
def test_a_setting_out_of_its_range_fails_before_training_and_names_the_setting(tmp_path, setting, value):
    """Not a traceback deep in training, nor a run that trains nothing and reports a stale checkpoint."""
    out = tmp_path / "m"
    with pytest.raises(ModelError, match=setting):
        train(
            sample_subset(tmp_path, 1), "jsonl", "tiny", out, quick(**{setting: value}), SMALL, progress=False
        )
    assert not out.exists()


def test_an_out_path_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "model"
    out.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ModelError, match="not a folder"):
        train(sample_subset(tmp_path, 1), "jsonl", "tiny", out, quick(), SMALL, progress=False)


def test_an_out_folder_holding_a_checkpoint_is_left_alone(tmp_path):
    """It may be a registered version: new weights under its name would lie about what loaded the graph."""
    out = checkpoint(tmp_path / "v1", "v1", {"selected_on": "validation", "best_val_f1": 0.5})
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ModelError, match="already holds a model"):
        train(sample_subset(tmp_path, 1), "jsonl", "tiny", out, quick(), SMALL, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_windows_without_triples_can_be_left_out_of_each_epoch(tmp_path):
    data = sample_subset(tmp_path, 4)
    lines = data.read_text(encoding="utf-8")
    data.write_text(
        lines + '{"text": "本指南由专家组讨论制定。", "doc_id": "empty", "triples": []}\n' * 6, "utf-8"
    )
    every = quick(val_fraction=0.0, empty_windows=1.0)
    everything = train(data, "jsonl", "tiny", tmp_path / "a", every, SMALL, progress=False)
    fewer = quick(val_fraction=0.0, empty_windows=0.0)
    only_triples = train(data, "jsonl", "tiny", tmp_path / "b", fewer, SMALL, progress=False)
    assert everything.metrics["train_windows"] == only_triples.metrics["train_windows"]
    assert (
        only_triples.metrics["train_windows_per_epoch"] == everything.metrics["train_windows_per_epoch"] - 6
    )
    with pytest.raises(ModelError, match="empty_windows"):
        train(data, "jsonl", "tiny", tmp_path / "c", quick(empty_windows=1.5), SMALL, progress=False)


def test_an_extra_corpus_adds_training_documents_and_its_renamed_relation_types(tmp_path):
    data = sample_subset(tmp_path, 3)
    extra = tmp_path / "extra.jsonl"
    text = "二甲双胍常见胃肠道反应。"
    triple = {
        "subject": "胃肠道反应",
        "subject_type": "SideEff",
        "subject_start": 6,
        "relation": "SideEff-Drug",
        "object": "二甲双胍",
        "object_type": "Drug",
        "object_start": 0,
    }
    extra.write_text(json.dumps({"text": text, "triples": [triple]}, ensure_ascii=False) + "\n", "utf-8")
    config = quick(val_fraction=0.3, relation_aliases={"SideEff-Drug": "Side_Effect"})
    result = train(data, "jsonl", "tiny", tmp_path / "m", config, SMALL, progress=False,
                   extra=[Corpus(extra, "jsonl")])  # fmt: skip
    assert result.metrics["extra_documents"] == 1 and result.metrics["extra_corpora"] == [f"jsonl:{extra}"]
    assert result.metrics["extra_windows_per_epoch"] == 1  # at most all of them
    assert trained_on.digest(text) in trained_on.read(tmp_path / "m")
    model_config, _ = load_config(tmp_path / "m" / "config.json")
    k = model_config.relations.index("Side_Effect")
    assert (model_config.head_types[k], model_config.tail_types[k]) == ("SideEff", "Drug")
    # A type dropped in the extra corpus only (FORMAT:OLD=), and no extra windows in the epochs.
    scoped = quick(val_fraction=0.3, relation_aliases={"jsonl:SideEff-Drug": ""}, extra_ratio=0.0)
    none = train(data, "jsonl", "tiny", tmp_path / "n", scoped, SMALL, progress=False,
                 extra=[Corpus(extra, "jsonl")])  # fmt: skip
    assert none.metrics["extra_windows_per_epoch"] == 0
    assert none.metrics["train_windows_per_epoch"] == result.metrics["train_windows_per_epoch"] - 1
    assert "SideEff-Drug" not in load_config(tmp_path / "n" / "config.json")[0].relations
    with pytest.raises(ModelError, match="extra_ratio"):
        train(data, "jsonl", "tiny", tmp_path / "c", quick(extra_ratio=-1.0), SMALL, progress=False)


@pytest.mark.parametrize("alias", ["Drug_Diseas=Treats", "ruijin:Drug_Disease=Treats"])
def test_a_renaming_that_matches_no_relation_type_fails_before_training(tmp_path, alias):
    """A misspelt old name, or one scoped to a format no corpus has, would train with the type unrenamed."""
    old, _, new = alias.partition("=")
    with pytest.raises(DataFormatError, match=f"{old}: no corpus.*") as raised:
        train(sample_subset(tmp_path, 3), "jsonl", "tiny", tmp_path / "m", quick(relation_aliases={old: new}),
              SMALL, progress=False)  # fmt: skip
    assert "Drug_Disease" in raised.value.hint and not (tmp_path / "m").exists()


def test_each_corpus_trains_only_the_relation_types_it_annotates(tmp_path, monkeypatch):
    data = sample_subset(tmp_path, 3)
    extra = tmp_path / "extra.jsonl"
    triple = {"subject": "胃肠道反应", "subject_type": "ADE", "subject_start": 6, "relation": "ADE_Drug",
              "object": "二甲双胍", "object_type": "Drug", "object_start": 0}  # fmt: skip
    line = json.dumps({"text": "二甲双胍常见胃肠道反应。", "triples": [triple]}, ensure_ascii=False)
    extra.write_text(line + "\n", "utf-8")
    seen = []
    collate = train_module.collate
    monkeypatch.setattr(train_module, "collate", lambda items, *a: seen.extend(items) or collate(items, *a))
    train(data, "jsonl", "tiny", tmp_path / "m", quick(val_fraction=0.3), SMALL, progress=False,
          extra=[Corpus(extra, "jsonl")])  # fmt: skip
    model_config, _ = load_config(tmp_path / "m" / "config.json")
    ade = frozenset({model_config.relations.index("ADE_Drug")})
    assert any(item.relations == ade for item in seen)  # the extra corpus's window: its one type
    target = {item.relations for item in seen if item.relations != ade}
    assert len(target) == 1 and len(next(iter(target))) > 1  # the data set's windows: all its types


def test_the_mention_column_trains_on_every_annotated_mention_and_is_never_extracted(tmp_path, monkeypatch):
    fixture = Path(__file__).parent / "fixtures" / "datasets" / "diakg" / "7.json"
    raw = json.loads(fixture.read_text(encoding="utf-8"))
    mention_only = {"sentence_id": "9", "sentence": "糖尿病患者应监测血糖。", "start_idx": 0, "end_idx": 11,
                    "entities": [{"entity_id": "T0", "entity": "糖尿病", "entity_type": "Disease",
                                  "start_idx": 0, "end_idx": 3}], "relations": []}  # fmt: skip
    raw["paragraphs"][0]["sentences"].append(mention_only)
    data = tmp_path / "diakg"
    data.mkdir()
    (data / "7.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    calls: list[tuple[list, int | None]] = []
    collate = train_module.collate
    monkeypatch.setattr(
        train_module, "collate", lambda items, ids, pad, mention=None: calls.append((items, mention))
        or collate(items, ids, pad, mention),
    )  # fmt: skip
    config = quick(val_fraction=0.0, empty_windows=0.0, mention_column=True)  # windows with a label only
    with_column = train(data, "diakg", "tiny", tmp_path / "m", config, SMALL, progress=False)
    k = len(load_config(tmp_path / "m" / "config.json")[0].relations)
    assert {mention for _, mention in calls} == {k}  # the column after the K relations, in every step
    items = [item for batch, _ in calls for item in batch]
    assert any(not item.spans and item.mentions == [(0, 2)] for item in items)  # the sentence of no triple
    assert all(item.mentions is not None for item in items)
    for item in items:  # every mention of a window, as inclusive token spans
        assert all(0 <= b <= e < len(item.offsets) for b, e in item.mentions)
    # Without the column, that sentence is a window without triples, left out of the epochs.
    calls.clear()
    without = dataclasses.replace(config, model=dataclasses.replace(config.model, mention_column=False))
    plain = train(data, "diakg", "tiny", tmp_path / "p", without, SMALL, progress=False)
    assert {mention for _, mention in calls} == {None}
    assert plain.metrics["train_windows_per_epoch"] == with_column.metrics["train_windows_per_epoch"] - 1
    assert not load_config(tmp_path / "p" / "config.json")[0].mention_column
    # A data set that does not annotate its mentions (JSON lines: triples only) gets no column.
    sample = sample_subset(tmp_path, 2)
    train(sample, "jsonl", "tiny", tmp_path / "j", quick(val_fraction=0.0, mention_column=True), SMALL,
          progress=False)  # fmt: skip
    assert not load_config(tmp_path / "j" / "config.json")[0].mention_column
    # Extraction scores the K relations only.
    found = Extractor.load(tmp_path / "m").extract(["糖尿病患者应使用二甲双胍。"], min_confidence=0.0)
    names = set(load_config(tmp_path / "m" / "config.json")[0].relations)
    assert all(t.relation in names for t in found[0])


def test_a_moving_average_of_the_weights_is_what_training_scores_and_saves(tmp_path):
    data = sample_subset(tmp_path, 2)
    plain = train(data, "jsonl", "tiny", tmp_path / "a", quick(val_fraction=0.0), SMALL, progress=False)
    config = quick(val_fraction=0.0, ema_decay=0.9)
    averaged = train(data, "jsonl", "tiny", tmp_path / "b", config, SMALL, progress=False)
    # The same seed trains the same weights; the checkpoint holds their average, so its digest differs.
    assert plain.steps == averaged.steps
    assert plain.model_version.split("-")[1] != averaged.model_version.split("-")[1]
    _, stored = load_config(tmp_path / "b" / "config.json")
    assert stored is not None and stored.ema_decay == 0.9
    with pytest.raises(ModelError, match="ema_decay"):
        train(data, "jsonl", "tiny", tmp_path / "c", quick(ema_decay=1.0), SMALL, progress=False)


def test_frozen_embeddings_stay_as_pretrained_while_the_rest_trains(tmp_path, monkeypatch):
    initial = []
    build = train_module.build_model

    def remember_weights(*args):
        model, tokenizer = build(*args)
        initial.append({k: v.detach().clone() for k, v in model.encoder.state_dict().items()})
        return model, tokenizer

    monkeypatch.setattr(train_module, "build_model", remember_weights)
    data = sample_subset(tmp_path, 2)
    for name, freeze in (("frozen", True), ("trained", False)):
        config = quick(val_fraction=0.0, freeze_embeddings=freeze)
        train(data, "jsonl", "tiny", tmp_path / name, config, SMALL, progress=False)
    embeddings, query = "embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight"
    frozen, trained = (
        Extractor.load(tmp_path / n, device="cpu").model.encoder.state_dict() for n in ("frozen", "trained")
    )
    assert torch.equal(frozen[embeddings], initial[0][embeddings])
    assert not torch.equal(frozen[query], initial[0][query])  # the layers above still train
    assert not torch.equal(trained[embeddings], initial[1][embeddings])


def test_mention_replacement_trains_on_windows_with_other_mentions_of_the_same_types(tmp_path, monkeypatch):
    data = sample_subset(tmp_path, 3)
    seen: dict[str, list] = {}
    collate = train_module.collate
    for name, rate in (("annotated", 0.0), ("replaced", 1.0)):
        seen[name] = []
        monkeypatch.setattr(
            train_module,
            "collate",
            lambda items, *a, into=seen[name]: into.extend(items) or collate(items, *a),
        )
        config = quick(val_fraction=0.0, mention_replace=rate)
        train(data, "jsonl", "tiny", tmp_path / name, config, SMALL, progress=False)
    annotated = {tuple(item.input_ids) for item in seen["annotated"]}
    replaced = {tuple(item.input_ids) for item in seen["replaced"]}
    assert len(seen["annotated"]) == len(seen["replaced"])  # the same windows, the same steps
    assert replaced - annotated  # windows the data set does not hold
    with pytest.raises(ModelError, match="mention_replace"):
        train(data, "jsonl", "tiny", tmp_path / "c", quick(mention_replace=1.5), SMALL, progress=False)


def test_token_masking_trains_on_windows_with_masked_characters(tmp_path, monkeypatch):
    data = sample_subset(tmp_path, 3)
    seen: list[torch.Tensor] = []
    model_forward = NRSOneRelModel.forward

    def forward(self, input_ids, *args, **kwargs):
        seen.append(input_ids)
        return model_forward(self, input_ids, *args, **kwargs)

    monkeypatch.setattr(NRSOneRelModel, "forward", forward)
    result = train(data, "jsonl", "tiny", tmp_path / "m", quick(val_fraction=0.0, mask_tokens=0.5), SMALL,
                   progress=False)  # fmt: skip
    mask_id = AutoTokenizer.from_pretrained(result.out_dir / "encoder").mask_token_id
    trained = [ids for ids in seen if (ids == mask_id).any()]
    assert trained and len(trained) == result.steps  # every training step saw masked characters
    with pytest.raises(ModelError, match="mask_tokens"):
        train(data, "jsonl", "tiny", tmp_path / "c", quick(mask_tokens=1.0), SMALL, progress=False)


def test_adversarial_training_adds_a_pass_on_moved_embeddings_each_step(tmp_path, monkeypatch):
    data = sample_subset(tmp_path, 3)
    embeddings: list[torch.Tensor] = []
    model_forward = NRSOneRelModel.forward

    def forward(self, *args, **kwargs):
        embeddings.append(self.encoder.get_input_embeddings().weight.detach().clone())
        return model_forward(self, *args, **kwargs)

    monkeypatch.setattr(NRSOneRelModel, "forward", forward)
    result = train(data, "jsonl", "tiny", tmp_path / "m", quick(val_fraction=0.0, adversarial=0.5), SMALL,
                   progress=False)  # fmt: skip
    assert len(embeddings) == 2 * result.steps  # scoring predicts without `forward`
    for clean, moved in zip(embeddings[::2], embeddings[1::2], strict=True):
        assert torch.linalg.vector_norm(moved - clean).item() == pytest.approx(0.5, rel=1e-3)
    with pytest.raises(ModelError, match="adversarial"):
        config = quick(adversarial=0.5, freeze_embeddings=True)
        train(data, "jsonl", "tiny", tmp_path / "c", config, SMALL, progress=False)


@pytest.mark.parametrize("amp", [True, False])
def test_training_on_a_bf16_cpu_keeps_fp32_weights_and_amp_off_keeps_it_fp32(tmp_path, monkeypatch, amp):
    monkeypatch.setattr("extractor.device.cpu_has_bf16", lambda: True)
    products: list[torch.dtype] = []
    linear = torch.nn.functional.linear

    def recorded(*args, **kwargs):
        out = linear(*args, **kwargs)
        products.append(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.functional, "linear", recorded)
    data = sample_subset(tmp_path, 2)
    config = quick(val_fraction=0.0, max_steps=2, amp=amp)
    result = train(data, "jsonl", "tiny", tmp_path / "m", config, SMALL, progress=False)
    assert (torch.bfloat16 in products) is amp  # training steps; evaluation stays fp32
    assert torch.float32 in products
    model, _ = NRSOneRelModel.from_pretrained(result.out_dir)
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize("keep", [True, False])
def test_cpu_training_keeps_freed_memory_unless_told_not_to_and_hands_it_back_at_the_end(
    tmp_path, monkeypatch, keep
):
    calls: list[str] = []
    monkeypatch.setattr(train_module, "keep_freed_memory", lambda: calls.append("keep") or True)
    monkeypatch.setattr(train_module, "hand_back_freed_memory", lambda: calls.append("hand back"))
    config = quick(max_steps=4, eval_every=2, keep_freed_memory=keep)
    train(sample_subset(tmp_path, 3), "jsonl", "tiny", tmp_path / "m", config, SMALL, progress=False)
    assert calls == (["keep", "hand back"] if keep else [])
