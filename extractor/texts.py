"""Unlabelled texts from files: what `extract` reads triples from and `pretrain` learns from, read one way."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from nrskg.contracts import record_id
from nrskg.discovery import discover, same_files, some_names
from nrskg.errors import DataFormatError

log = logging.getLogger(__name__)

_SUFFIXES = (".txt", ".md", ".jsonl")
_LINES = (".txt", ".md")  # a text per line
_JSON = ".json"  # read where a `JsonDocument` reader is given

Decode = Callable[[bytes, str], str]
"""File bytes and where they came from (for errors) -> text; the CLI passes ingest's decoder
(`pipeline.reading.decode_text`), so a file `ingest` reads is read here too."""

JsonDocument = Callable[[str, str], list[tuple[str, str]]]
"""A `.json` file's text and where it came from -> its (key, text) records, key "" for a file of one object;
the CLI passes ingest's reader (`pipeline.reading.json_document_texts`), so a `.json` document is read as
ingest reads it. Without one, `.json` files are not read."""


def utf8(data: bytes, where: str) -> str:
    """Strict UTF-8 (a BOM dropped): the decoder where no other is given."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{where}: cannot read as UTF-8 text: {e}") from e


def read_texts(
    path: Path | str, decode: Decode = utf8, json_document: JsonDocument | None = None
) -> list[tuple[str, str | list[str]]]:
    """(id, text) records from a .txt or .md (a text per line, id = line number), a .jsonl (an object per line
    with "text", or pre-segmented "words", and an optional "id"), a .json document where `json_document` reads
    it, or a folder of those (ids then `file:id`, a .json of one object `file`), each file's bytes decoded by
    `decode`.

    A folder is walked as ingest walks a corpus (`nrskg.discovery`), a link to a file of it read once, and as
    there one file that cannot be read does not stop the others: each is named in a warning, with the reason.
    A file named alone is read or is an error. Texts are raw strings or, where every record is pre-segmented,
    word lists.
    """
    root = Path(path)
    suffixes = (*_SUFFIXES, _JSON) if json_document else _SUFFIXES
    if root.is_dir():
        records = _folder_records(root, decode, json_document, suffixes)
    elif root.suffix.lower() in suffixes:
        records = [(key or root.name, text) for key, text in _records(root, decode, json_document)]
    else:
        raise DataFormatError(f"{root}: expected a {', '.join(suffixes)} file, or a folder of those")
    if len({isinstance(text, list) for _, text in records}) > 1:
        raise DataFormatError(f"{root}: mixes raw 'text' and segmented 'words' records")
    return records


def _folder_records(
    root: Path, decode: Decode, json_document: JsonDocument | None, suffixes: tuple[str, ...]
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
        name = file.relative_to(root).as_posix()
        try:
            records += [
                (f"{name}:{key}" if key else name, text)
                for key, text in _records(file, decode, json_document)
            ]
        except DataFormatError as e:
            log.warning("%s", e)
            failed += 1
    if not records:
        found = f"{len(other)} files of other suffixes, {failed} files failed" if files else "no files"
        log.warning(
            "nothing to read in %s: %s; texts are read from %s files", root, found, ", ".join(suffixes)
        )
    return records


def _records(
    file: Path, decode: Decode, json_document: JsonDocument | None
) -> list[tuple[str, str | list[str]]]:
    try:
        data = file.read_bytes()
    except OSError as e:
        raise DataFormatError(f"{file}: cannot read: {e}") from e
    text = decode(data, str(file))
    if json_document and file.suffix.lower() == _JSON:
        return list(json_document(text, str(file)))
    # Lines end at "\n" alone, as ingest reads JSON lines: `splitlines` also cuts at form feeds and U+2028,
    # which JSON strings may hold raw, so ids stopped being the file's line numbers and such records broke.
    lines = text.split("\n")
    if file.suffix.lower() in _LINES:
        # Only the end is trimmed: offsets index the line as written, its indentation (　　) included.
        return [(str(n), line.rstrip()) for n, line in enumerate(lines, 1) if line.strip()]
    records = []
    first_line: dict[str, int] = {}  # each output row must name one text
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(f"{file}: line {n}: not JSON: {e.msg}") from e
        text = record.get("words", record.get("text")) if isinstance(record, dict) else None
        if not isinstance(text, str | list):
            raise DataFormatError(
                f'{file}: line {n}: expected an object with a string "text" or a list "words"'
            )
        key = record_id(record) or str(n)
        if key in first_line:
            raise DataFormatError(
                f"{file}: line {n}: id {key!r} again (first on line {first_line[key]})",
                hint="Give each record its own id (a line without one is its line number)",
            )
        first_line[key] = n
        records.append((key, text))
    return records
