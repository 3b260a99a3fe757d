"""The contract between the pipeline's deduplicated tables and the graph writer.

Like neo4j-graphrag's `Neo4jGraph`, these models are the only thing the writer accepts: the pipeline turns its
pandas tables (the dedup stage, docs/architecture.md) into one `GraphBatch`; the writer never sees a
DataFrame.
A batch is self-contained: every key and id it refers to is defined in the same batch, so a write can never
silently drop a row whose endpoint is missing (UNWIND ... MATCH skips such rows without a word).
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nrskg.errors import DataFormatError

# Evidence items are stored as "sent_id|head_start|head_end|tail_start|tail_end|model_version" strings,
# because Neo4j properties cannot hold maps and a list of strings can be merged as a set in plain Cypher.
# Each field bears the name of the property that holds it in the graph: the Sentence's `sent_id`, the
# EVIDENCE link's others; `Evidence.encode` and the Cypher that encodes a link (`write_statements`) join them.
EVIDENCE_FIELDS = ("sent_id", "head_start", "head_end", "tail_start", "tail_end", "model_version")
EVIDENCE_SEPARATOR = "|"
# Where each field sits in an evidence string, for the Cypher that splits one: split(item, '|')[EV_SENT_ID].
EV_SENT_ID, EV_HEAD_START, EV_HEAD_END, EV_TAIL_START, EV_TAIL_END, EV_MODEL_VERSION = range(
    len(EVIDENCE_FIELDS)
)
# Ids that end up in a uniqueness index must stay far below Neo4j's 8 kB index key limit: 1024 characters are
# at most 4 kB of UTF-8.
MAX_ID_LENGTH = 1024


def graph_key(key: str) -> str:
    """The key as stored in the graph: verbatim, unless it is too long for the uniqueness index.

    A 10 kB entity name would make a 10 kB key, and Neo4j refuses range-index keys over 8 kB, failing the
    whole transaction. Such keys keep their first characters and gain a sha256 of the full key, which stays
    unique; the entity's `name` property always keeps the full text.
    """
    if len(key) <= MAX_ID_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[: MAX_ID_LENGTH - len(digest) - 1]}#{digest}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _no_separator(value: str) -> str:
    if EVIDENCE_SEPARATOR in value:
        raise ValueError(
            f"must not contain {EVIDENCE_SEPARATOR!r} (it separates evidence fields): {value[:80]!r}"
        )
    return value


class DocumentNode(_Frozen):
    """A document is its source; `content_hash` is the version of its text (None: keep the stored one, as
    re-extraction from the stored sentences does)."""

    doc_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    source: str
    content_hash: str | None = None


class SentenceNode(_Frozen):
    sent_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    doc_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    text: str
    start: int | None = Field(default=None, ge=0, description="Offset in the (normalised) document text.")
    end: int | None = Field(default=None, ge=0)
    source_start: int | None = Field(
        default=None, ge=0, description="Character offset in the source's decoded text, before normalisation."
    )
    source_end: int | None = Field(default=None, ge=0)

    _check_sent_id = field_validator("sent_id")(_no_separator)


class EntityNode(_Frozen):
    """One node per (normalised name, type); `key` is computed by the pipeline, e.g. "Drug:二甲双胍". Its
    surface forms are those of its mentions, counted by the graph (`graph.write_statements`)."""

    key: str = Field(min_length=1)
    name: str = Field(min_length=1)
    type: str = Field(min_length=1)


class Mention(_Frozen):
    """The entity read in the sentence, spelt there as `surface_forms`: a document taken back takes back
    the spellings only its mentions used."""

    entity_key: str = Field(min_length=1)
    sent_id: str = Field(min_length=1)
    surface_forms: list[str] = Field(default_factory=list)


class Evidence(_Frozen):
    """Where one relation was read: a sentence, the character offsets (end exclusive) of head and tail, and
    the model's confidence there. Kept per place so that a relationship's confidence can be recomputed from
    the places left when a document is removed or re-extracted."""

    sent_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    head_start: int = Field(ge=0)
    head_end: int = Field(ge=0)
    tail_start: int = Field(ge=0)
    tail_end: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)

    _check_sent_id = field_validator("sent_id")(_no_separator)

    @model_validator(mode="after")
    def _spans_not_empty(self) -> Evidence:
        if self.head_end <= self.head_start or self.tail_end <= self.tail_start:
            raise ValueError(f"empty span in evidence {self}")
        return self

    @property
    def place(self) -> tuple[str, int, int, int, int]:
        """The sentence and offsets: one place, whatever the confidence read there."""
        return (self.sent_id, self.head_start, self.head_end, self.tail_start, self.tail_end)

    def encode(self, model_version: str) -> str:
        """The stored form, with the model version so that re-extraction can tell old evidence from new; the
        fields of EVIDENCE_FIELDS in their order."""
        values = {**vars(self), "model_version": model_version}
        return EVIDENCE_SEPARATOR.join(str(values[name]) for name in EVIDENCE_FIELDS)


class RelationEdge(_Frozen):
    """One (head, relation, tail) with its provenance.

    `count` is what the pipeline counted; the graph stores the number of distinct evidence items instead, so
    that loading the same rows twice cannot double it.
    """

    head_key: str = Field(min_length=1)
    relation: str = Field(min_length=1)
    tail_key: str = Field(min_length=1)
    count: int = Field(ge=1)
    model_version: str = Field(min_length=1)
    evidence: list[Evidence] = Field(min_length=1)

    _check_model_version = field_validator("model_version")(_no_separator)

    @property
    def confidence(self) -> float:
        """The highest confidence of its places."""
        return max(ev.confidence for ev in self.evidence)


class GraphBatch(_Frozen):
    """Everything one load writes. Validation checks that every reference resolves inside the batch."""

    documents: list[DocumentNode] = Field(default_factory=list)
    sentences: list[SentenceNode] = Field(default_factory=list)
    entities: list[EntityNode] = Field(default_factory=list)
    mentions: list[Mention] = Field(default_factory=list)
    relations: list[RelationEdge] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> GraphBatch:
        doc_ids = {d.doc_id for d in self.documents}
        sent_ids = {s.sent_id for s in self.sentences}
        keys = {e.key for e in self.entities}
        for i, s in enumerate(self.sentences):
            if s.doc_id not in doc_ids:
                raise DataFormatError(
                    f"sentences[{i}] ({s.sent_id!r}): document {s.doc_id!r} is not in the batch"
                )
        for i, m in enumerate(self.mentions):
            if m.entity_key not in keys:
                raise DataFormatError(f"mentions[{i}]: entity {m.entity_key[:80]!r} is not in the batch")
            if m.sent_id not in sent_ids:
                raise DataFormatError(f"mentions[{i}]: sentence {m.sent_id!r} is not in the batch")
        for i, r in enumerate(self.relations):
            for end in (r.head_key, r.tail_key):
                if end not in keys:
                    raise DataFormatError(
                        f"relations[{i}] ({r.relation!r}): entity {end[:80]!r} is not in the batch"
                    )
            for ev in r.evidence:
                if ev.sent_id not in sent_ids:
                    raise DataFormatError(
                        f"relations[{i}] ({r.relation!r}): evidence sentence {ev.sent_id!r} is not in the"
                        " batch"
                    )
        return self


class WriteCounters(_Frozen):
    """Neo4j's update counters, summed over every statement of a write."""

    nodes_created: int = 0
    nodes_deleted: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0
    properties_set: int = 0
    labels_added: int = 0

    def __add__(self, other: WriteCounters) -> WriteCounters:
        return WriteCounters(
            **{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields}
        )
