"""Training on several corpora: a target corpus (validated on) plus extra ones that only add supervision.

Relation types are merged by name after renaming synonyms (`SideEff-Drug=ADE_Drug`; an empty new name drops
the type; `ruijin:Test_Disease=` only in corpora of that format). Each corpus is trained only on the types it
annotates (`batching.EncodedExample.relations`). Validation stays on the target corpus, and an extra document
that shares text with a validation document is left out, as the validation split itself keeps such documents
together: DiaKG and Ruijin annotate many of the same guideline texts, so joint training would otherwise see
the validation texts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from extractor.datasets.document import Document
from extractor.datasets.loader import load
from extractor.datasets.split import linked_components
from extractor.datasets.summary import RelationType, relation_schema
from extractor.splitting import WindowConfig
from nrskg.errors import DataFormatError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Corpus:
    """A data file or folder and its reader format (`extractor.datasets.FORMATS`)."""

    path: Path
    fmt: str

    @classmethod
    def parse(cls, spec: str) -> Corpus:
        """`FORMAT:PATH`, as `nrskg train --extra ruijin:data/ruijin/train` spells it."""
        fmt, sep, path = spec.partition(":")
        if not sep or not fmt or not path:
            raise DataFormatError(f"{spec!r}: expected FORMAT:PATH, e.g. ruijin:data/ruijin/train")
        return cls(Path(path), fmt)

    def __str__(self) -> str:
        return f"{self.fmt}:{self.path}"


def rename_relations(docs: Sequence[Document], aliases: Mapping[str, str]) -> list[Document]:
    """The documents with each relation renamed by `aliases`, and triples of types renamed to "" dropped."""
    if not aliases:
        return list(docs)

    def renamed(triples):
        out = []
        for t in triples:
            name = aliases.get(t.relation, t.relation)
            if name:
                out.append(replace(t, relation=name))
        return out

    result = []
    for doc in docs:
        examples = [replace(e, triples=renamed(e.triples)) for e in doc.examples]
        full = replace(doc.full, triples=renamed(doc.full.triples)) if doc.full is not None else None
        result.append(replace(doc, examples=examples, full=full))
    return result


def aliases_for(aliases: Mapping[str, str], fmt: str) -> dict[str, str]:
    """The renamings that apply to a corpus read with `fmt`: every `OLD=NEW`, and `FORMAT:OLD=NEW` where
    FORMAT is `fmt` (which wins over an unscoped one for the same OLD)."""
    everywhere, here = {}, {}
    for key, new in aliases.items():
        scope, scoped, old = key.partition(":")
        if not scoped:
            everywhere[key] = new
        elif scope == fmt:
            here[old] = new
    return everywhere | here


def check_aliases(aliases: Mapping[str, str], corpora: Sequence[tuple[Corpus, Sequence[Document]]]) -> None:
    """Refuse renamings (keys as given, `OLD` or `FORMAT:OLD`) whose old name is no relation type of any
    corpus they apply to (each given with its documents as read, not renamed): a misspelt name would
    otherwise train for an hour with its type left as it was."""
    if not aliases:
        return
    annotated: dict[str, set[str]] = {}  # format -> relation types as the corpora of that format name them
    for corpus, docs in corpora:
        names = {r.name for r in relation_schema(docs)}
        annotated[corpus.fmt] = annotated.get(corpus.fmt, set()) | names
    everywhere = set().union(*annotated.values())
    unmatched = []
    for key in aliases:
        scope, scoped, old = key.partition(":")
        if (old not in annotated.get(scope, ())) if scoped else (key not in everywhere):
            unmatched.append(key)
    if unmatched:
        raise DataFormatError(
            f"--relation-aliases {', '.join(unmatched)}: no corpus it applies to annotates that relation",
            hint="The corpora annotate "
            + "; ".join(f"{fmt}: {', '.join(sorted(names))}" for fmt, names in annotated.items()),
        )


def load_renamed(
    path: Path | str, fmt: str, aliases: Mapping[str, str], window: WindowConfig | None = None
) -> list[Document]:
    """A corpus's documents (`load`) with the renamings that apply to its format: how training, the train
    flow's held-out documents and the studies all read a corpus."""
    return renamed(load(path, fmt, window), fmt, aliases)


def renamed(docs: Sequence[Document], fmt: str, aliases: Mapping[str, str]) -> list[Document]:
    """Documents read with `fmt`, with the renamings that apply to that format."""
    return rename_relations(docs, aliases_for(aliases, fmt))


def load_extra(
    corpora: Sequence[Corpus], aliases: Mapping[str, str], held_out: Sequence[Document], window: WindowConfig
) -> dict[Corpus, list[Document]]:
    """Each extra corpus's documents (cut into the model's `window`), relations renamed, minus those sharing
    text with `held_out`.

    Document ids and groups are prefixed with the corpus (`ruijin:12`), so that DiaKG's document 12 and
    Ruijin's file 12 are not taken for parts of one source.
    """
    return extra_documents([(c, load(c.path, c.fmt, window)) for c in corpora], aliases, held_out)


def extra_documents(
    corpora: Sequence[tuple[Corpus, Sequence[Document]]],
    aliases: Mapping[str, str],
    held_out: Sequence[Document],
) -> dict[Corpus, list[Document]]:
    """`load_extra` for corpora already read (each with its documents, not renamed)."""
    docs, source = [], {}
    for corpus, read in corpora:
        for doc in renamed(read, corpus.fmt, aliases):
            docs.append(replace(doc, doc_id=f"{corpus}#{doc.doc_id}", group=f"{corpus}#{doc.group}"))
            source[docs[-1].doc_id] = corpus
    kept = apart_from(docs, held_out)
    return {corpus: [d for d in kept if source[d.doc_id] == corpus] for corpus, _ in corpora}


def apart_from(extra: Sequence[Document], held_out: Sequence[Document]) -> list[Document]:
    """The extra documents that share no text (directly or through each other) with a held-out document."""
    if not held_out or not extra:
        return list(extra)
    everything = [*held_out, *extra]
    kept = []
    for component in linked_components(everything):
        if all(i >= len(held_out) for i in component):
            kept.extend(everything[i] for i in component)
    dropped = len(extra) - len(kept)
    if dropped:
        log.info("%d of %d extra documents share text with validation ones: left out", dropped, len(extra))
    order = {id(d): n for n, d in enumerate(extra)}
    return sorted(kept, key=lambda d: order[id(d)])


def merged_schema(target: Sequence[Document], extra: Sequence[Document]) -> list[RelationType]:
    """The target's relation types, then those only the extra corpora have; argument types from the target
    where it has the relation (corpora name entity types differently: Ruijin's SideEff is DiaKG's ADE)."""
    mine = {r.name: r for r in relation_schema(target)}
    theirs = {r.name: r for r in relation_schema(extra)}
    for name, relation in theirs.items():
        if name in mine:
            mine[name] = replace(mine[name], count=mine[name].count + relation.count)
    return sorted([*mine.values(), *(r for n, r in theirs.items() if n not in mine)], key=lambda r: r.name)
