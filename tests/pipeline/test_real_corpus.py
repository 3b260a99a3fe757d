"""The pipeline on real OCR'd literature: the offset map must carry brat annotations through normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from extractor.splitting import WindowConfig
from pipeline.normalise import normalise
from pipeline.reading import read_corpus
from pipeline.sentences import split_corpus

pytestmark = pytest.mark.shared_data


def _entities(ann: Path) -> list[tuple[int, int, str]]:
    """Contiguous brat entities as (start, end, text)."""
    found = []
    for line in ann.read_text(encoding="utf-8").splitlines():
        if line.startswith("T") and ";" not in line.split("\t")[1]:
            _, type_span, text = line.split("\t")
            _, start, end = type_span.split(" ")
            found.append((int(start), int(end), text))
    return found


def test_ruijin_annotations_survive_normalisation_and_splitting(shared_data: Path) -> None:
    folder = shared_data / "ruijin_round2" / "train"
    files = [folder / f"{n}.txt" for n in ("0", "1", "2")]
    documents, manifest = read_corpus(files)
    assert manifest["status"].tolist() == ["new"] * 3
    sentences = split_corpus(documents, WindowConfig(200, 150)).set_index("doc_id", drop=False)
    checked = 0
    for doc in documents:
        offsets = doc.norm.offsets
        rows = sentences.loc[[doc.doc_id]]
        starts, ends = rows["start"].to_numpy(), rows["end"].to_numpy()
        for start, end, text in _entities(Path(doc.source).with_suffix(".ann")):
            if doc.norm.original[start:end] != text:
                continue  # the data set's few mismatched annotations
            # Original span -> normalised span: the characters that came from inside it.
            a, b = np.searchsorted(offsets, start), np.searchsorted(offsets, end)
            assert doc.text[a:b] == normalise(text).text
            assert doc.norm.to_original(a, b) == (start, end)
            # And through the map of the sentence that holds it, back to the original again.
            i = np.searchsorted(starts, a, side="right") - 1
            if i >= 0 and ends[i] >= b:  # entities across a sentence boundary have no holder
                row = rows.iloc[i]
                orig_map = row["orig_map"]
                if orig_map is None:  # contiguous: the original runs on from orig_start
                    orig_map = range(row["orig_start"], row["orig_end"])
                assert (orig_map[a - row["start"]], orig_map[b - 1 - row["start"]] + 1) == (start, end)
                checked += 1
    assert checked > 1000
