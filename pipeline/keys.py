"""Entity keys: the one normalisation that both loading and looking up use, so `ACEI`, `acei` and `ＡＣＥＩ`
are one node when written and one answer when asked for.

No pandas here: `nrskg query` imports this to normalise a clinician's parameters and should start quickly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from graph.queries import CookbookQuery
from graph.types import graph_key
from nrskg.errors import DataFormatError

_WHITESPACE = re.compile(r"\s+")
KEY_SEPARATOR = ":"


def normalise_name(name: str) -> str:
    """The comparable form of a surface form: NFKC (full-width to half-width), case-folded, no spaces."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", name).casefold())


def entity_key(name: str, entity_type: str) -> str:
    """`Type:normalised name`, e.g. `Drug:二甲双胍`: one graph node per key."""
    return f"{entity_type}{KEY_SEPARATOR}{normalise_name(name)}"


def normalise_key(key: str) -> str:
    """A `Type:name` key as a person types it (`Drug:ＡＣＥＩ`) in the form the graph stores (`Drug:acei`)."""
    entity_type, sep, name = key.partition(KEY_SEPARATOR)
    if not sep or not entity_type or not name.strip():
        raise DataFormatError(f"{key!r} is not an entity key: expected TYPE:NAME, e.g. Drug:二甲双胍")
    return graph_key(entity_key(name, entity_type))


def cookbook_parameters(query: CookbookQuery, given: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """`given` as `query` runs: `$limit` is `limit` unless given, and for each lookup its parameter in the
    graph's form (a name of a known type becomes the key `<param>_key`, a key is normalised, a text becomes a
    normalised name fragment). Every parameter the question takes but `$limit` must be given."""
    missing = sorted(set(query.params) - set(given) - {"limit"})
    if missing:
        raise DataFormatError(f"{query.name} needs " + " ".join(f"-p {m}=..." for m in missing))
    params = {"limit": limit, **given}
    for lookup in query.lookups:
        value = params.get(lookup.param)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # `-p name=5` parses as a number; a name is text
        if not isinstance(value, str):
            raise DataFormatError(f"parameter {lookup.param!r} is needed as text (-p {lookup.param}=...)")
        if lookup.kind == "name":
            params[f"{lookup.param}_key"] = graph_key(entity_key(value, lookup.entity_type))
        elif lookup.kind == "key":
            params[lookup.param] = normalise_key(value)
        else:
            params[lookup.param] = normalise_name(value)
    return params
