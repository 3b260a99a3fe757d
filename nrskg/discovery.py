"""The one folder walk: which files under a folder are inputs, in which order, for every reader of them
(`ingest` reads a corpus with it, `extract` and `pretrain` their texts), so that they never disagree."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from nrskg.errors import PipelineError


def discover(paths: Path | str | Iterable[Path | str]) -> list[Path]:
    """The input files: a file as given, or every file under a folder, in a stable order; each reader says
    which of them it does not read (another suffix, not text), so none is dropped unsaid.

    Hidden files and folders (`.git`, `.DS_Store`) are not inputs, nor is a brat `.ann` beside its `.txt`
    (it belongs to that document); a link whose file is gone is, so that the reader names it as not read; a
    missing path is a usage error.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(
                (
                    p
                    for p in _files_under(path)
                    if (p.is_file() or (p.is_symlink() and not p.exists()))
                    and not _brat_annotations(p)
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                ),
                key=lambda p: _natural_key(p.relative_to(path)),
            )
        else:
            raise PipelineError(f"{path}: no such file or folder")
    return found


def same_files(files: list[Path]) -> dict[Path, Path]:
    """The inputs that are another path (a symlink) to a file among `files`, mapped to that file: every reader
    reads a file once, as itself (ingest's document is its resolved path)."""
    kept: dict[Path, Path] = {}
    for path in sorted(files, key=lambda p: p.absolute() != p.resolve()):  # the file itself before a link
        kept.setdefault(path.resolve(), path)
    return {path: path.resolve() for path in files if kept[path.resolve()] is not path}


def some_names(names: Iterable[str]) -> str:
    """The first five of `names` for a message about the files a reader did not read: a folder may hold
    thousands."""
    first = list(islice(names, 6))
    return ", ".join(first[:5]) + (", ..." if len(first) > 5 else "")


def _files_under(folder: Path) -> Iterator[Path]:
    """Every entry but a folder under `folder`, through linked folders too (a batch linked into a corpus is
    part of it), except a link back to a folder it lies in, which would never end."""
    for root, folders, files in os.walk(folder, followlinks=True):
        here = Path(root)
        real = here.resolve()
        above = here.relative_to(folder).parents  # the folders between `folder` and here, `folder` included
        if any((folder / step).resolve() == real for step in above):
            folders.clear()
            continue
        yield from (here / name for name in files)


def _brat_annotations(path: Path) -> bool:
    """A brat `.ann` file beside the `.txt` it annotates: part of that document, not an input of its own."""
    return path.suffix.lower() == ".ann" and path.with_suffix(".txt").is_file()


def _natural_key(path: Path) -> list[tuple[int, int | str]]:
    """Sort `2.txt` before `10.txt`; tuples keep numbers and words comparable."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", path.as_posix()) if p]
