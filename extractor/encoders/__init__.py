"""Encoders that work offline: a tiny random BERT for tests, and converted pretrained ones: bge-small-zh (the
default real encoder, from a Maven Central jar, `encoders.bge`) and multilingual-e5-small (a PyPI wheel)."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig

from extractor.encoders.tiny import TinyEncoderConfig, build_tiny_encoder
from nrskg.errors import ModelError

TINY = "tiny"


def resolve_encoder(
    spec: str, train_texts: list[str], workdir: Path | str, tiny: TinyEncoderConfig | None = None
) -> str:
    """Where to load the encoder from: "tiny" (built in `workdir` from `train_texts`), a folder or a hub id.

    A hub id is resolved now (cache, else download), because an error now beats one in the middle of training.
    """
    if spec == TINY:
        return str(build_tiny_encoder(train_texts, Path(workdir) / "tiny-encoder", tiny))
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"encoder directory {path} has no config.json: not a HuggingFace model directory"
            )
        return str(path)
    try:
        # The local cache first; otherwise the hub, unless HF_HUB_OFFLINE=1 (set where the hub is out of
        # reach, and by the tests, so that a missing model fails at once instead of after network retries).
        AutoConfig.from_pretrained(spec)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"encoder {spec!r} is neither a local directory nor a hub id that could be loaded ({e}); "
            "download it where the hub is reachable, or use `nrskg encoder bge-zh --out DIR` "
            "or `--encoder tiny`"
        ) from e
    return spec


__all__ = ["TINY", "TinyEncoderConfig", "build_tiny_encoder", "resolve_encoder"]
