"""Unlabelled texts from files: what `extract` reads triples from and `pretrain` learns from, read one way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from nrskg.discovery import discover, same_files, some_names
from nrskg.errors import DataFormatError

log = logging.getLogger(__name__)

_LINES = (".txt", ".md")  # a text per line
_JSON = (".jsonl", ".json")  # read where a `JsonTexts` reader is given

Decode = Callable[[bytes, str], str]
"""File bytes and where they came from (for errors) -> text; the CLI passes ingest's decoder
(`pipeline.reading.decode_text`), so a file `ingest` reads is read here too."""

JsonTexts = Callable[[str, str], list[tuple[str, str | list[str]]]]
"""A `.json` or `.jsonl` file's text and its absolute path -> its (source, text) records, named as ingest
names the documents it reads from them (`path#L3`, `path#id=ID`); the CLI passes ingest's reader
(`pipeline.reading.json_texts`), so a JSON record is read and named as ingest reads and names it. Without
one, JSON files are not read."""


def utf8(data: bytes, where: str) -> str:
    """Strict UTF-8 (a BOM dropped): the decoder where no other is given."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{where}: cannot read as UTF-8 text: {e}") from e


def read_texts(
    path: Path | str, decode: Decode = utf8, json_texts: JsonTexts | None = None
) -> list[tuple[str, str | list[str]]]:
    """(id, text) records from a .txt or .md (a text per line), a .jsonl or .json where `json_texts` reads it,
    or a folder of those, each file's bytes decoded by `decode`.

    A JSON record's id is its source as ingest names it, so an output row can be matched to the graph and
    `nrskg remove`: the file's absolute path, `#id=ID` or `#L3` (`#[2]` for one of a list). Line 3 of a .txt
    is `path#L3` (ingest reads a .txt whole, as one document named by its path). A folder is walked as
    ingest walks a corpus (`nrskg.discovery`), a link to a file of it read once, and as there one file that
    cannot be read does not stop the others: each is named in a warning, with the reason. A file named alone
    is read or is an error. Texts are raw strings or, where every record is pre-segmented, word lists.
    """
    root = Path(path)
    suffixes = (*_LINES, *_JSON) if json_texts else _LINES
    if root.is_dir():
        records = _folder_records(root, decode, json_texts, suffixes)
    elif root.suffix.lower() in suffixes:
        records = _records(root, decode, json_texts)
    else:
        raise DataFormatError(f"{root}: expected a {', '.join(suffixes)} file, or a folder of those")
    if len({isinstance(text, list) for _, text in records}) > 1:
        raise DataFormatError(f"{root}: mixes raw 'text' and segmented 'words' records")
    return records


def _folder_records(
    root: Path, decode: Decode, json_texts: JsonTexts | None, suffixes: tuple[str, ...]
) -> list[tuple[str, str | list[str]]]:
    """The records of every file under `root` that can be read; the others are named in warnings, and a
    folder with nothing to read says so (as an ingest of it would, it is no error: the result is empty)."""
    files = discover(root)
    other = [f for f in files if f.suffix.lower() not in suffixes]
    if other:
        names = some_names(f.relative_to(root).as_posix() for f in other)
        log.warning(
            "%d files not read, their suffix is not one of %s: %s", len(other), ", ".join(suffixes), names
        )
    readable = [f for f in files if f.suffix.lower() in suffixes]
    links = same_files(readable)
    if links:
        names = some_names(f"{f.relative_to(root).as_posix()} (same file as {to})" for f, to in links.items())
        log.warning("%d files not read, links to files read as themselves: %s", len(links), names)
    records: list[tuple[str, str | list[str]]] = []
    failed = 0
    for file in (f for f in readable if f not in links):
        try:
            records += _records(file, decode, json_texts)
        except DataFormatError as e:
            log.warning("%s", e)
            failed += 1
    if not records:
        found = f"{len(other)} files of other suffixes, {failed} files failed" if files else "no files"
        log.warning(
            "nothing to read in %s: %s; texts are read from %s files", root, found, ", ".join(suffixes)
        )
    return records


def _records(file: Path, decode: Decode, json_texts: JsonTexts | None) -> list[tuple[str, str | list[str]]]:
    """The file's records, named by its absolute path as ingest names its sources (a link: its target's)."""
    source = file.resolve()
    try:
        data = source.read_bytes()
    except OSError as e:
        raise DataFormatError(f"{file}: cannot read: {e}") from e
    text = decode(data, str(source))
    if json_texts and file.suffix.lower() in _JSON:
        return json_texts(text, str(source))
    # Lines end at "\n" alone, as ingest reads JSON lines: `splitlines` also cuts at form feeds and U+2028.
    # Only the end is trimmed: offsets index the line as written, its indentation (　　) included.
    lines = enumerate(text.split("\n"), 1)
    return [(f"{source}#L{n}", line.rstrip()) for n, line in lines if line.strip()]
