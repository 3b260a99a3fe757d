"""Entity keys: the one normalisation that both loading and looking up use, so `ACEI`, `acei` and `ＡＣＥＩ`
are one node when written and one answer when asked for.

No pandas here: `nrskg query` imports this to normalise a clinician's parameters and should start quickly.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import opencc

from graph.queries import CookbookQuery
from graph.types import graph_key
from nrskg.errors import DataFormatError

_WHITESPACE = re.compile(r"\s+")
KEY_SEPARATOR = ":"
# OpenCC's conversions to simplified and back to traditional: the mainland, Taiwan and Hong Kong standards.
_TO_SIMPLIFIED = ("t2s", "tw2s", "hk2s")
_TO_TRADITIONAL = ("s2t", "s2tw", "s2hk")


def normalise_name(name: str) -> str:
    """The comparable form of a surface form: NFKC (full-width to half-width), case-folded, no spaces."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", name).casefold())


def entity_key(name: str, entity_type: str) -> str:
    """`Type:normalised name`, e.g. `Drug:二甲双胍`: one graph node per key."""
    return f"{entity_type}{KEY_SEPARATOR}{normalise_name(name)}"


@functools.cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def name_forms(name: str) -> list[str]:
    """`name` normalised, then its simplified and traditional spellings: the graph keeps a name in the
    script its text used, so `二甲雙胍` typed must find `二甲双胍` written, and the reverse."""
    name = normalise_name(name)
    if name.isascii():
        return [name]
    simplified = [_converter(config).convert(name) for config in _TO_SIMPLIFIED]
    traditional = [_converter(config).convert(s) for s in simplified for config in _TO_TRADITIONAL]
    return list(dict.fromkeys([name, *simplified, *traditional]))


def split_key(key: str) -> tuple[str, str] | None:
    """`TYPE:NAME` as (type, name), or None when it is no key. Keys are pasted and typed by hand: spaces
    around the type and a Chinese input method's full-width colon `：` (NFKC makes it `:`) belong to it."""
    entity_type, sep, name = unicodedata.normalize("NFKC", key).partition(KEY_SEPARATOR)
    entity_type = entity_type.strip()
    if not sep or not entity_type or not normalise_name(name):
        return None
    return entity_type, name


def key_forms(key: str) -> list[str]:
    """The keys the graph may store a `Type:name` key under, as typed first (`Drug:ＡＣＥＩ` is `Drug:acei`),
    then in the other script (`name_forms`)."""
    split = split_key(key)
    if split is None:
        raise DataFormatError(f"{key!r} is not an entity key: expected TYPE:NAME, e.g. Drug:二甲双胍")
    entity_type, name = split
    return [graph_key(entity_key(form, entity_type)) for form in name_forms(name)]


def cookbook_parameters(query: CookbookQuery, given: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """`given` as `query` runs: `$limit` is `limit` unless given, and for each lookup the forms the graph may
    store its parameter in, as the list `Lookup.cypher_param` (a name of a known type becomes keys, a key is
    normalised, a text becomes normalised name fragments), each in both scripts. Every parameter the question
    takes but `$limit` must be given, and no other: a misspelt one would be left out without a word. A
    misspelt one is named before one missing, since `-p disease=...` for `-p name=...` is one mistake."""
    takes = " ".join(f"-p {m}=..." for m in query.params if m != "limit")
    unknown = sorted(set(given) - set(query.params) - {"limit"})
    if unknown:
        raise DataFormatError(
            f"{query.command_name} takes no -p {unknown[0]}",
            hint=f"It takes {takes}" if takes else "It takes no parameters but -p limit=N",
        )
    missing = sorted(set(query.params) - set(given) - {"limit"})
    if missing:
        raise DataFormatError(f"{query.command_name} needs " + " ".join(f"-p {m}=..." for m in missing))
    params = {"limit": limit, **given}
    if isinstance(params["limit"], bool) or not isinstance(params["limit"], int) or params["limit"] < 1:
        raise DataFormatError(
            f"-p limit={params['limit']}: expected a whole number of rows, 1 or more",
            hint="Give one, e.g. --limit 20",
        )
    for lookup in query.lookups:
        value = params.get(lookup.param)
        if not isinstance(value, str):
            raise DataFormatError(f"parameter {lookup.param!r} is needed as text (-p {lookup.param}=...)")
        if lookup.kind != "key" and not normalise_name(value):  # a key says what it lacks itself
            raise DataFormatError(
                f"-p {lookup.param}= is empty",
                hint="Give the text to look up (`nrskg query --list` shows what each question takes)",
            )
        if lookup.kind == "name":
            params[lookup.cypher_param] = key_forms(f"{lookup.entity_type}{KEY_SEPARATOR}{value}")
        elif lookup.kind == "key":
            params[lookup.cypher_param] = key_forms(value)
        else:
            params[lookup.cypher_param] = name_forms(value)
    return params
