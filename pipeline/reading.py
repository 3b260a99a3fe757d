"""Discover and decode a corpus: every input ends as a Document or a manifest row saying why not.

A corpus is a folder (searched recursively) or single files: `.txt` and `.md` (brat `.txt` too:
the `.ann` beside it is not an input), `.json` (an object, or a list of objects, with a text field)
and `.jsonl` (one object per line; each line is its own document, sourced as `path#L12`, or as
`path#id=ID` when the object has an `id`). One bad file or line never stops the run: it gets a
manifest row with status `failed:<kind>` and a message naming the file and line. A file with another
suffix is not read but still gets a row, `skipped:unsupported`, naming the suffixes that are read: a
folder of PDFs or spreadsheets must not look like an empty one.

A document is identified by its source (the absolute path, plus the record's `id` or line), and
the hash of its normalised text is its version: an edited file keeps its `doc_id` and changes its
`content_hash`, so the flows replace its old extraction instead of adding a second document.

Encodings are detected without guessing on short files: strict UTF-8 (with or without BOM; a file cut inside
its last character loses that character, with a warning) first,
then strict GB18030 (a superset of GBK and GB2312) if the result looks like simplified Chinese text, then
strict Big5 if it looks like traditional Chinese text, and only then charset-normalizer, whose answer is
accepted above a confidence bar; below it the file is `failed:undecodable` rather than mojibake.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import charset_normalizer
import pandas as pd
from tqdm import tqdm

from nrskg.contracts import FAILED_PREFIX, NEW, SKIPPED, UNSUPPORTED, failed, record_id
from nrskg.discovery import discover, same_files, some_names
from nrskg.errors import DataFormatError, PipelineError
from pipeline.normalise import Normalised, normalise
from pipeline.settings import NormaliseSettings, ReadSettings

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["doc_id", "source", "content_hash", "status", "reason", "n_chars", "encoding"]
WORDS_FIELD = "words"  # pre-segmented text (a list of words), read by `json_texts(words=True)` for `pretrain`
PARAGRAPH_BREAK = "\n\n"  # between the texts a dotted `text_field` collects from one record

# Text that decodes as GB18030 is accepted only if most of its non-ASCII characters are in
# GB2312 (the 7,445 common characters and symbols of simplified Chinese): GB18030 maps almost any
# byte pair to *some* character, so a Big5 or Latin-1 file would otherwise "decode" as rare
# characters and private-use code points.
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_MIN_GB2312_SHARE = 0.8
# Likewise Big5 (Taiwan, Hong Kong): most non-ASCII characters must be its symbols or its 5,401 frequent
# characters (codes A140-C67E). Without this step a short Big5 file went to charset-normalizer, which took
# one sentence of it for Shift JIS and loaded half-width katakana.
_BIG5_COMMON = range(0xA140, 0xC67F)
_MIN_BIG5_COMMON_SHARE = 0.8
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


@dataclass(frozen=True, eq=False)
class Document:
    """One readable input. `doc_id` hashes the source: editing keeps it, renaming changes it; the
    `content_hash` of the normalised text is the document's version."""

    doc_id: str
    source: str
    content_hash: str
    norm: Normalised
    encoding: str

    @property
    def text(self) -> str:
        """The normalised text the pipeline splits and the extractor reads."""
        return self.norm.text


class Corpus(NamedTuple):
    """What reading returns: the readable documents and one manifest row per input, failed or not."""

    documents: list[Document]
    manifest: pd.DataFrame


class _Failed(Exception):
    """An input that cannot become a document; its manifest status is `failed:<kind>`, or `status` when given
    (a file the ingest does not read at all is `skipped:unsupported`, not a failure)."""

    def __init__(
        self, kind: str, reason: str, encoding: str | None = None, status: str | None = None
    ) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.encoding = kind, reason, encoding
        self.status = status or failed(kind)


def doc_id_of(source: str) -> str:
    """The id of the document read from `source` (`/abs/path`, `/abs/path#L12`, `/abs/path#id=ID`):
    a hash, so any path fits the graph's id rules (no `|`, bounded length)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def doc_ids_named(name: str) -> list[str]:
    """The doc_ids `name` may mean: itself (a doc_id), or that of the document read from it as a source
    (`path`, `path#L12`, `path#id=ID`, a relative path resolved as reading resolves it). A `#` may also be
    part of a file's name, so each split is a candidate; the graph says which one exists. The file need not
    exist: a document's sentences are in the graph."""
    splits = [len(name), *(i for i, c in enumerate(name) if c == "#")]
    return [name, *(doc_id_of(str(Path(name[:i]).resolve()) + name[i:]) for i in splits)]


def content_hash_of(normalised_text: str) -> str:
    """The version of a document's text: equal for texts that differ only in what normalisation removes."""
    return hashlib.sha256(normalised_text.encode("utf-8")).hexdigest()


def decode_text(data: bytes, where: str) -> str:
    """File bytes as text, decoded as ingest decodes them (BOMs, UTF-8, GB18030, then detection), for readers
    outside ingest (`nrskg extract`, `pretrain`); what ingest records as failed raises `DataFormatError`."""
    try:
        return _decode(data, where, ReadSettings())[0]
    except _Failed as e:
        raise DataFormatError(e.reason) from e


def json_texts(text: str, where: str, words: bool = False) -> list[tuple[str, str | list[str]]]:
    """The texts of a `.json` or `.jsonl` file (`where`, by its suffix) as ingest reads them, for readers
    outside ingest (`nrskg extract`, `pretrain`), each with its ingest source (`where#L3`, `where#id=ID`,
    `where#[2]`; `where` for a file of one object), so their output names what the graph names. With `words`
    (for `pretrain`) a record's pre-segmented `words` (a list of strings) come before its text; without, the
    text is read as ingest reads it. As in ingest a bad record fails alone: it is named in a warning and left
    out; a file with no readable record raises `DataFormatError`."""
    read = _json_lines if where.lower().endswith(".jsonl") else _json_document
    texts, problems = [], []
    for source, outcome in read(text, where, "", ReadSettings().text_field, words=words):
        if isinstance(outcome, _Failed):
            problems.append(outcome.reason)
        else:
            texts.append((source, outcome[0]))
    if problems and not texts:
        others = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataFormatError(f"{problems[0]}{others}")
    for reason in problems:
        log.warning("%s", reason)
    return texts


def _decode(data: bytes, where: str, settings: ReadSettings) -> tuple[str, str]:
    """Decode file bytes to `(text, encoding)`, or raise `_Failed` naming `where`."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8) :]
        text = _utf8(body, where, marked=True)
        return (_strict(body, "utf-8", where) if text is None else text), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", where), "utf-16"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _Failed("binary", f"{where}: NUL byte at offset {nul}: binary, not text")
    text = _utf8(data, where)
    if text is not None:
        return _check_text(text, where, "utf-8", settings), "utf-8"
    for encoding, plausible in _STRICT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if plausible(text):
            return _check_text(text, where, encoding, settings), encoding
    # Matches come best first. UTF-16/32 without a BOM would have NUL bytes in any text with ASCII
    # in it, so guessing them for NUL-free bytes is always wrong.
    matches = charset_normalizer.from_bytes(data)
    best = next((m for m in matches if not m.encoding.startswith(("utf_16", "utf_32"))), None)
    if best is None:
        raise _Failed("undecodable", f"{where}: not UTF-8, GB18030 or Big5, and no encoding fits")
    if best.chaos > settings.max_detect_chaos or best.coherence < settings.min_detect_coherence:
        raise _Failed(
            "undecodable",
            f"{where}: not UTF-8, GB18030 or Big5; best guess {best.encoding} is below the bar "
            f"(chaos {best.chaos:.2f} > {settings.max_detect_chaos} or coherence {best.coherence:.2f} "
            f"< {settings.min_detect_coherence})",
        )
    return _check_text(str(best), where, best.encoding, settings), best.encoding


def _utf8(data: bytes, where: str, *, marked: bool = False) -> str | None:
    """`data` as UTF-8, or None where it is not UTF-8. Bytes cut inside their last character (at a byte count:
    `head -c`, a size-capped export) are read without that character, named in a warning: failing the file
    would lose it all for a character already lost. Only where the rest holds a multibyte character or a BOM
    `marked` the bytes as UTF-8: bytes whose one non-ASCII character ends them (啖 in GB18030) would read as
    cut UTF-8 too."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if (
            e.reason == "unexpected end of data"
            and e.end == len(data)
            and (marked or not data[: e.start].isascii())
        ):
            log.warning(
                "%s: ends inside a UTF-8 character (cut at a byte count?); its last %d bytes are left out",
                where, len(data) - e.start,
            )  # fmt: skip
            return data[: e.start].decode("utf-8")
    return None


def _strict(data: bytes, encoding: str, where: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise _Failed("undecodable", f"{where}: byte {e.start}: not {encoding} ({e.reason})", encoding) from e


def _looks_chinese(text: str) -> bool:
    """Most non-ASCII characters are GB2312's: simplified Chinese, not bytes that merely decode."""
    non_ascii = len(_NON_ASCII.findall(text))
    outside_gb2312 = text.encode("gb2312", "replace").count(b"?") - text.count("?")
    return outside_gb2312 <= (1 - _MIN_GB2312_SHARE) * non_ascii


def _looks_traditional(text: str) -> bool:
    """Most non-ASCII characters are Big5's symbols or frequent characters: traditional Chinese."""
    non_ascii = _NON_ASCII.findall(text)
    common = sum(int.from_bytes(c.encode("big5", "replace"), "big") in _BIG5_COMMON for c in non_ascii)
    return common >= _MIN_BIG5_COMMON_SHARE * len(non_ascii)


# After UTF-8 (`_utf8`: its bytes rarely decode by chance), decoded strictly in this order, each kept only
# where the text looks like Chinese of its script.
_STRICT_ENCODINGS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("gb18030", _looks_chinese),
    ("big5", _looks_traditional),
)


def _check_text(text: str, where: str, encoding: str, settings: ReadSettings) -> str:
    controls = len(_CONTROL.findall(text))
    if text and controls > settings.max_control_ratio * len(text):
        raise _Failed("binary", f"{where}: {controls} control characters in {len(text)}: not text", encoding)
    return text


def read_corpus(
    paths: Path | str | Iterable[Path | str],
    settings: ReadSettings | None = None,
    normalise_settings: NormaliseSettings | None = None,
) -> Corpus:
    """Read every input under `paths` into documents plus a manifest with one row per input.

    Manifest statuses: `new` (read; the flows later turn it into `skipped` or `loaded`), `failed:<kind>`,
    and `skipped` for a link to a file read as itself. Inputs with the same text are all `new` here: which
    of them carries the text is decided with what the graph holds (`pipeline.versions.plan_loads`).
    `n_chars` counts normalised characters, what the pipeline goes on to process. Sources are absolute
    paths, so a corpus named by a relative or an absolute path reads the same.
    """
    settings = settings or ReadSettings()
    documents: list[Document] = []
    rows: list[tuple] = []  # in MANIFEST_COLUMNS order
    files = discover(paths)
    links = same_files(files)
    for path in tqdm(files, desc="read", unit="file", disable=None):
        if path in links:
            reason = f"same file as {links[path]}"
            rows.append((None, str(path.absolute()), None, SKIPPED, reason, 0, None))
            continue
        for source, outcome in _read_file(path.resolve() if path.exists() else path.absolute(), settings):
            if isinstance(outcome, _Failed):
                if outcome.status != UNSUPPORTED:  # counted in one line below: a folder may hold thousands
                    log.warning("%s", outcome.reason)
                rows.append((None, source, None, outcome.status, outcome.reason, 0, outcome.encoding))
                continue
            text, encoding = outcome
            norm = normalise(text, normalise_settings)
            if not norm.text:
                reason = f"{source}: no text after normalisation"
                log.warning("%s", reason)
                rows.append((None, source, None, failed("empty"), reason, 0, encoding))
                continue
            doc_id, content_hash = doc_id_of(source), content_hash_of(norm.text)
            documents.append(Document(doc_id, source, content_hash, norm, encoding))
            rows.append((doc_id, source, content_hash, NEW, "", len(norm.text), encoding))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS).astype({"n_chars": "int64"})
    _log_read(manifest, len(files), settings)
    return Corpus(documents, manifest)


def _log_read(manifest: pd.DataFrame, files: int, settings: ReadSettings) -> None:
    """One line of counts, and one warning naming the files not read for their suffix (a few of them: a
    folder may hold thousands)."""
    status = manifest["status"]
    unsupported = manifest.loc[status == UNSUPPORTED, "source"]
    log.info(
        "read %d inputs from %d files: %d documents, %d failed, %d not read",
        len(manifest), files, int((status == NEW).sum()), int(status.str.startswith(FAILED_PREFIX).sum()),
        len(unsupported),
    )  # fmt: skip
    if len(unsupported):
        names = some_names(Path(s).name for s in unsupported)
        suffixes = accepted_suffixes(settings)
        log.warning("%d files not read, their suffix is not one of %s: %s", len(unsupported), suffixes, names)


def accepted_suffixes(settings: ReadSettings) -> str:
    """The suffixes a corpus is read from, as messages name them (`.txt, .md, .json, .jsonl`)."""
    return ", ".join(settings.suffixes)


def check_corpus(corpus: Path, settings: ReadSettings) -> None:
    """A corpus that does not exist (a typo, a share not mounted) is one error naming it, before Neo4j, the
    model or a run folder; found while reading, it became a stopped run that said to run it again."""
    if not corpus.exists():
        raise PipelineError(
            f"{corpus}: no such file or folder",
            hint=f"Give a corpus folder or a {accepted_suffixes(settings)} file",
        )


def with_status(
    manifest: pd.DataFrame, doc_ids: Iterable[str], status: str, reason: str | None = None
) -> pd.DataFrame:
    """A copy of `manifest` where the `new` rows of `doc_ids` get `status` (`skipped`, `loaded`) and, when
    given, `reason` (else they keep theirs).

    Failed rows and in-corpus duplicates keep what reading found out about them.
    """
    out = manifest.copy()
    rows = out["doc_id"].isin(set(doc_ids)) & (out["status"] == NEW)
    out.loc[rows, "status"] = status
    if reason is not None:
        out.loc[rows, "reason"] = reason
    return out


def sources_in(path: Path, settings: ReadSettings | None = None) -> set[str] | None:
    """The sources reading gives the inputs of one file now (`path#id=a`, `path#L2`, ...), so a record deleted
    from a JSON file can be told from one still there; an emptied file holds none. None when the file as a
    whole cannot be read, where nothing can be told."""
    inputs = list(_read_file(path, settings or ReadSettings()))
    whole = [outcome for source, outcome in inputs if source == str(path) and isinstance(outcome, _Failed)]
    if any(failed.kind == "empty" for failed in whole):
        return set()
    if whole:
        return None
    return {source for source, _ in inputs}


def _read_file(path: Path, settings: ReadSettings) -> Iterator[tuple[str, tuple[str, str] | _Failed]]:
    """Each input in one file as `(source, (text, encoding))` or `(source, _Failed)`."""
    source = str(path)
    try:
        suffix = path.suffix.lower()
        if suffix not in settings.suffixes:
            reason = (
                f"{source}: not read, suffix {suffix or '(none)'} is not one of {accepted_suffixes(settings)}"
            )
            raise _Failed("unsupported", reason, status=UNSUPPORTED)
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            limit = settings.max_file_bytes
            raise _Failed("too-large", f"{source}: {size} bytes is over max_file_bytes {limit}")
        data = path.read_bytes()
        if not data.strip():
            raise _Failed("empty", f"{source}: empty file")
        text, encoding = _decode(data, source, settings)
    except _Failed as problem:
        yield source, problem
        return
    except OSError as e:
        yield source, _Failed("unreadable", f"{source}: cannot read ({e.strerror or e})")
        return
    if suffix == ".jsonl":
        yield from _json_lines(text, source, encoding, settings.text_field)
    elif suffix == ".json":
        yield from _json_document(text, source, encoding, settings.text_field)
    else:
        yield source, (text, encoding)


def _json_lines(
    text: str, source: str, encoding: str, field: str, *, words: bool = False
) -> Iterator[tuple[str, tuple[str | list[str], str] | _Failed]]:
    """One input per non-blank line; a bad line fails alone, named `path#L<line>`.

    A line whose object has an `id` (a string or a number) is sourced as `path#id=<id>`, so it keeps its
    identity when lines are inserted above it; a second line with the same id in the file fails.
    """
    any_line = False
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        any_line = True
        where = f"{source}#L{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            reason = f"{where}: column {e.colno}: invalid JSON ({e.msg})"
            yield where, _Failed("invalid-json", reason, encoding)
            continue
        given_id = record_id(record)
        if given_id is not None:
            if given_id in first_line:
                reason = f"{where}: id {given_id!r} again (first on line {first_line[given_id]})"
                yield where, _Failed("duplicate-id", reason, encoding)
                continue
            first_line[given_id] = number
            where = f"{source}#id={given_id}"
        yield where, _text_field(record, where, encoding, field, words=words)
    if not any_line:
        yield source, _Failed("empty", f"{source}: no JSON lines", encoding)


def _json_document(
    text: str, source: str, encoding: str, field: str, *, words: bool = False
) -> Iterator[tuple[str, tuple[str | list[str], str] | _Failed]]:
    """A `.json` file holds one object or a list of them; many `.json` files in the wild are JSON lines."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            yield from _json_lines(text, source, encoding, field, words=words)
        else:
            reason = f"{source}: line {e.lineno} column {e.colno}: invalid JSON ({e.msg})"
            yield source, _Failed("invalid-json", reason, encoding)
        return
    if isinstance(record, list):
        for index, item in enumerate(record):
            where = f"{source}#[{index}]"
            yield where, _text_field(item, where, encoding, field, words=words)
    else:
        yield source, _text_field(record, source, encoding, field, words=words)


def _text_field(
    record: object, where: str, encoding: str, field: str, *, words: bool = False
) -> tuple[str | list[str], str] | _Failed:
    """The record's text; with `words`, a list of strings at `words` (pre-segmented text) comes first."""
    if not isinstance(record, dict):
        reason = f"{where}: expected a JSON object, got {type(record).__name__}"
        return _Failed("invalid-json", reason, encoding)
    segmented = record.get(WORDS_FIELD)
    if words and isinstance(segmented, list) and all(isinstance(w, str) for w in segmented):
        return segmented, encoding
    texts = _strings_at(record, field)
    if not texts and field in record:  # a plain name whose value is a number, null, an object...
        kind = _JSON_KINDS.get(type(record[field]), type(record[field]).__name__)
        return _Failed("no-text", f"{where}: field {field!r} is {kind}, not a string", encoding)
    if not texts:
        keys = ", ".join(sorted(map(str, record))[:10])
        return _Failed("no-text", f"{where}: no string field {field!r} (fields: {keys})", encoding)
    return PARAGRAPH_BREAK.join(texts), encoding


_JSON_KINDS = {
    type(None): "null", bool: "true or false", int: "a number", float: "a number", dict: "an object",
    list: "an array",
}  # fmt: skip
"""JSON's names of the values `json.loads` gives, for messages about a record."""


def _strings_at(record: dict, field: str) -> list[str]:
    """The strings at a dotted path, through lists: `paragraphs.paragraph` reads every paragraph
    of a DiaKG document; a plain name is one top-level field."""
    values: list[object] = [record]
    for name in field.split("."):
        values = [v.get(name) for v in _flatten(values) if isinstance(v, dict)]
    return [v for v in _flatten(values) if isinstance(v, str)]


def _flatten(values: list[object]) -> list[object]:
    return [item for v in values for item in (v if isinstance(v, list) else [v])]
