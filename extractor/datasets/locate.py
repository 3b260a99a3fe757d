"""Finding mentions in text when annotations give strings but no offsets (CMeIE, DuIE, users' JSONL)."""

from __future__ import annotations

import hashlib
import re


def occurrences(text: str, mention: str) -> list[int]:
    """Start offsets of every (possibly overlapping) occurrence of `mention` in `text`; none for ''."""
    if not mention:
        return []
    return [m.start() for m in re.finditer(f"(?={re.escape(mention)})", text)]


def closest_pair(
    head_starts: list[int], head_len: int, tail_starts: list[int], tail_len: int
) -> tuple[int, int] | None:
    """The (head start, tail start) pair that lies closest together, None when either list is empty.

    When a string occurs several times the annotation does not say which occurrence is meant; the pair with
    the smallest gap is the likeliest reading. Overlapping pairs (the same span twice, or one nested in
    the other) come last: a relation between a span and part of itself is rarely what was annotated.
    """

    def cost(pair: tuple[int, int]) -> tuple[bool, bool, int, int, int]:
        h, t = pair
        h_end, t_end = h + head_len, t + tail_len
        same = h == t and h_end == t_end
        overlap = h < t_end and t < h_end
        gap = max(h, t) - min(h_end, t_end)
        return same, overlap, max(gap, 0), h, t

    pairs = [(h, t) for h in head_starts for t in tail_starts]
    return min(pairs, key=cost) if pairs else None


def text_id(text: str) -> str:
    """A short, stable document id for a text that comes without one."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
