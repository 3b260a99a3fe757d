"""Which sentences a model was trained on, kept beside its weights.

A retrained model's validation documents can be the current model's training documents (the data grew, so the
split by document moved); scored on them, the current model would look better than it is. Comparisons and
evaluations read this record to score models only on sentences none of them has seen. Sentences are kept as
digests of their text, so the record names no text and stays small (17 bytes a sentence). Each document's
whole text is kept too: a model with other window settings cuts a Ruijin document into other windows, which
only the whole text recognises.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from extractor.datasets import Document
from extractor.schema import Example
from nrskg.errors import ModelError

FILE = "trained_on.txt"
_DIGEST = re.compile(r"[0-9a-f]{16}")


def digest(text: str) -> str:
    """A short, stable name of a sentence's text, blind to whitespace as the document split is (64 bits of
    SHA-1: collisions are out of reach at these sizes)."""
    return hashlib.sha1("".join(text.split()).encode("utf-8")).hexdigest()[:16]


def write(model_dir: Path, texts: Iterable[str]) -> None:
    """Record the training sentences of the model in `model_dir`, one digest a line, sorted."""
    lines = "".join(f"{d}\n" for d in sorted({digest(text) for text in texts}))
    (Path(model_dir) / FILE).write_text(lines, encoding="ascii")


def read(model_dir: Path | str) -> frozenset[str] | None:
    """The digests of the sentences the model was trained on; None where its checkpoint records none."""
    path = Path(model_dir) / FILE
    if not path.is_file():
        return None
    try:
        digests = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(
            f"{path}: cannot read the model's training sentences ({e})", hint="Copy the model directory again"
        ) from e
    if not all(_DIGEST.fullmatch(d) for d in digests):
        raise ModelError(f"{path}: not a list of sentence digests", hint="Copy the model directory again")
    return frozenset(digests)


def texts(docs: Iterable[Document]) -> Iterator[str]:
    """What `write` records of training documents: each one's sentences (or windows) and its whole text."""
    for doc in docs:
        yield doc.text()
        yield from (example.text for example in doc.examples)


def unseen(docs: Iterable[Document], seen: frozenset[str]) -> list[Example]:
    """The sentences (or windows) of `docs` that are not among the `seen` digests, nor part of a document seen
    whole (cut into other windows when the model was trained)."""
    return [
        example
        for doc in docs
        if digest(doc.text()) not in seen
        for example in doc.examples
        if digest(example.text) not in seen
    ]
