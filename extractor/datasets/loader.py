"""`load(path, fmt)`: the one entry point that dispatches to the reader of each format."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from extractor.configuration import NRSOneRelConfig
from extractor.datasets.diakg import read_diakg
from extractor.datasets.document import Document, files_of
from extractor.datasets.jsonl import read_jsonl
from extractor.datasets.ruijin import read_ruijin
from extractor.datasets.spo import read_spo
from extractor.splitting import WindowConfig
from nrskg.errors import DataFormatError

log = logging.getLogger(__name__)

# format -> (file suffixes read from a folder, reader of one file)
_READERS: dict[str, tuple[tuple[str, ...], Callable[[Path, WindowConfig], list[Document]]]] = {
    "diakg": ((".json",), lambda p, w: [read_diakg(p)]),
    "ruijin": ((".txt",), lambda p, w: [read_ruijin(p, w)]),
    "cmeie": ((".jsonl", ".json"), lambda p, w: read_spo(p)),
    "duie": ((".jsonl", ".json"), lambda p, w: read_spo(p)),
    "jsonl": ((".jsonl",), lambda p, w: read_jsonl(p)),
}
FORMATS = tuple(_READERS)


def load(path: Path | str, fmt: str, window: WindowConfig | None = None) -> list[Document]:
    """Read a file, or every file of that format in a folder, into Documents.

    `window` sets Ruijin's document windows (default: a new model's), as its relations cross sentences; other
    formats keep their sentences whole, and `window_examples` cuts them when a model needs it.
    Raises DataFormatError naming the file and line/record for any malformed input, and for unknown formats.
    """
    if fmt not in _READERS:
        raise DataFormatError(f"{path}: unknown data format {fmt!r}; expected one of {', '.join(FORMATS)}")
    suffixes, read = _READERS[fmt]
    root = Path(path)
    if fmt == "ruijin" and root.suffix == ".ann":
        root = root.with_suffix(".txt")
    window = window or WindowConfig.of(NRSOneRelConfig())
    try:
        docs = [doc for file in files_of(root, suffixes) for doc in read(file, window)]
    except DataFormatError as e:
        if e.hint is None and root.exists():  # data of another format fails on its first record or file
            others = ", ".join(other for other in FORMATS if other != fmt)
            e.hint = f"If the data is not {fmt}, pass its format as --format: one of {others}"
        raise
    log.debug("read %d %s documents from %s", len(docs), fmt, root)
    return docs
