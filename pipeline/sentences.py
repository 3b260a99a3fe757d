"""Cut normalised documents into the sentences (and windows) the extractor reads, with their provenance.

Sentences and windows are cut by `extractor.splitting`, as the loaded model was trained. Every row carries
offsets into the normalised document (`start`/`end`) and into the original text (`orig_start`/`orig_end`);
where normalisation changed the characters inside a sentence, `orig_map` lists the original index of each of
its characters (else it is null).
"""

from __future__ import annotations

import pandas as pd

from extractor.splitting import WindowConfig, sentence_windows
from nrskg.contracts import sentence_id
from pipeline.reading import Document

SENTENCE_COLUMNS = [
    "sent_id", "doc_id", "index", "part", "text", "start", "end", "orig_start", "orig_end", "orig_map",
]  # fmt: skip


def split_corpus(documents: list[Document], window: WindowConfig) -> pd.DataFrame:
    """One row per sentence of each document, or per window of one longer than `window` (the model's), in
    document order (columns: `SENTENCE_COLUMNS`).

    `part` is 0 for a sentence given whole and 1, 2, ... for the windows of a long one; `index` numbers rows
    within the document and makes `sent_id` = `doc_id:index`. Rows are collected first and framed once: a
    DataFrame per document costs milliseconds, which is most of the work for a corpus of short documents.
    """
    frame = pd.DataFrame([row for doc in documents for row in _rows(doc, window)], columns=SENTENCE_COLUMNS)
    return frame.astype(dict.fromkeys(["index", "part", "start", "end", "orig_start", "orig_end"], "int64"))


def _rows(doc: Document, window: WindowConfig) -> list[tuple]:
    text, offsets = doc.text, doc.norm.offsets
    rows = []
    for s, e, part in sentence_windows(text, window):
        orig_start, orig_end = doc.norm.to_original(s, e)
        orig_map = None if orig_end - orig_start == e - s else offsets[s:e].tolist()  # None: contiguous
        index = len(rows)
        rows.append((sentence_id(doc.doc_id, index), doc.doc_id, index, part, text[s:e], s, e,
                     orig_start, orig_end, orig_map))  # fmt: skip
    return rows
