"""Inference: texts in, triples with character offsets and confidences out.

Long texts are cut into the overlapping windows the model was trained on and the windows' triples are merged
back. Windows are sorted by length into batches (little padding), scored over all K relations, and put back in
input order.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from extractor import tagging
from extractor.alignment import tokens_to_char_span
from extractor.batching import (
    BatchBudget,
    auto_budget,
    budget_batches,
    length_batches,
    pad_inputs,
    pair_bytes,
)
from extractor.configuration import BatchSettings
from extractor.device import autocast, free_memory, resolve_device
from extractor.model import CellPredictions, NRSOneRelModel
from extractor.schema import Entity, Triple
from extractor.splitting import window_spans
from extractor.texts import Decode, JsonTexts, read_texts, utf8
from extractor.tokenization import TextTokenizer
from nrskg.contracts import TRIPLE_COLUMNS, TRIPLE_DTYPES
from nrskg.errors import DataFormatError

log = logging.getLogger(__name__)

AUTO_BATCH = 0  # batch_size 0: fill each batch to the device's budget of token pairs


@dataclass(frozen=True, order=True)
class PredictedTriple(Triple):
    confidence: float = 0.0  # mean probability of the triple's three horn marks


@dataclass
class _Window:
    text_index: int
    start: int  # character offset of the window in its text
    text: str


class Extractor:
    """A loaded model ready to extract; also wraps a model in memory (evaluation during training)."""

    def __init__(
        self,
        model: NRSOneRelModel,
        tokenizer: PreTrainedTokenizerBase,
        device: str = "auto",
        batch_size: int = AUTO_BATCH,
        row_block: int | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        self.config = model.config
        self.tokenizer = TextTokenizer(tokenizer, self.config.tokenization, self.config.max_tokens)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.batch_size = batch_size  # sentences per batch; AUTO_BATCH: filled to `budget()`
        self.batching = BatchSettings()
        self.row_block = row_block
        self.capped_windows = 0  # windows whose non-empty cells exceeded config.max_cells_per_window

    @classmethod
    def load(
        cls,
        model_dir: Path | str,
        device: str = "auto",
        batch_size: int = AUTO_BATCH,
        row_block: int | None = None,
    ) -> Extractor:
        model, tokenizer = NRSOneRelModel.from_pretrained(model_dir)
        return cls(model, tokenizer, device, batch_size, row_block)

    def budget(self) -> BatchBudget:
        """Token pairs one batch may hold now: from the device's free memory, or the CPU's fixed budget."""
        per_pair = pair_bytes(self.config.d_e, self.config.num_relations, self.config.num_labels)
        return auto_budget(free_memory(self.device), per_pair, self.batching)

    def batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices of inputs of these token lengths, grouped into the batches extraction runs."""
        if self.batch_size == AUTO_BATCH:
            return budget_batches(lengths, self.budget())
        return length_batches(lengths, self.batch_size)

    def rows_per_block(self, batch: int, length: int) -> int | None:
        """Head rows scored at a time: the caller's `row_block`, else on the CPU as many as keep one block's
        pair features and logits in cache (`BatchSettings.cpu_block_pairs`; measured in results_speed.md),
        else all (None)."""
        if self.row_block is not None or self.device.type != "cpu":
            return self.row_block
        return max(1, self.batching.cpu_block_pairs // (batch * length))

    @property
    def model_version(self) -> str:
        return self.config.model_version

    def extract(
        self, texts: list[str], progress: bool = False, min_confidence: float | None = None
    ) -> list[list[PredictedTriple]]:
        """Triples of each text, offsets into that text, sorted by position.

        Only triples with confidence >= `min_confidence` are kept; None means the model's own calibrated
        threshold (`config.min_confidence`, set by training for a validation precision target). `progress`
        shows a bar only where stderr is a terminal.
        """
        threshold = self.config.min_confidence if min_confidence is None else min_confidence
        windows = [
            _Window(n, start, text[start:end])
            for n, text in enumerate(texts)
            for start, end in window_spans(text, self.config.window_chars, self.config.window_stride)
            if end > start
        ]
        tokens = self.tokenizer([w.text for w in windows])
        found: list[dict[tuple, PredictedTriple]] = [{} for _ in texts]
        was_training = self.model.training
        capped_before = self.capped_windows
        self.model.eval()
        batches = self.batches([len(t.input_ids) for t in tokens])
        try:
            for batch in tqdm(batches, desc="extract", unit="batch", disable=None if progress else True):
                input_ids, attention_mask = pad_inputs([tokens[i].input_ids for i in batch], self.pad_id)
                with autocast(self.device):
                    block = self.rows_per_block(*input_ids.shape)
                    inputs = input_ids.to(self.device), attention_mask.to(self.device)
                    cells = self.model.predict(*inputs, block)
                for row, triples in self._decode(cells, len(batch)).items():
                    window, offsets = windows[batch[row]], tokens[batch[row]].offsets
                    self._add(found[window.text_index], texts[window.text_index], window, offsets, triples)
        finally:
            self.model.train(was_training)
        if self.capped_windows > capped_before:
            log.warning(
                "%d windows marked more than %d cells; kept the most confident (an undertrained model?)",
                self.capped_windows - capped_before, self.config.max_cells_per_window,
            )  # fmt: skip
        # Keys are (head start, head end, relation id, tail start, tail end): sorting them orders by position.
        return [
            [per_text[key] for key in sorted(per_text) if per_text[key].confidence >= threshold]
            for per_text in found
        ]

    def _decode(self, cells: CellPredictions, rows: int) -> dict[int, list[tuple[tagging.SpanTriple, float]]]:
        """Per batch row, the decoded token-span triples with their confidences."""
        index = cells.index.cpu().numpy()
        classes = cells.classes.cpu().numpy()
        mark_probs = cells.mark_probs.float().cpu().numpy()  # (N, 3), columns in tagging.MARKS order
        column = {mark: n for n, mark in enumerate(tagging.MARKS)}
        marked = mark_probs.max(axis=1)  # how sure the model is that the cell is not "-"
        cap = self.config.max_cells_per_window
        out: dict[int, list[tuple[tagging.SpanTriple, float]]] = defaultdict(list)
        for row in range(rows):
            picked = np.flatnonzero(index[:, 0] == row)
            if not len(picked):
                continue
            if len(picked) > cap:
                self.capped_windows += 1
                picked = np.sort(picked[np.argsort(-marked[picked], kind="stable")[:cap]])
            _, i, j, k = index[picked].T
            where = {
                (kk, ii, jj): n
                for n, kk, ii, jj in zip(picked.tolist(), k.tolist(), i.tolist(), j.tolist(), strict=True)
            }
            for span in tagging.decode_cells(k, i, j, classes[picked]):
                probs = [
                    mark_probs[where[rel, r, c], column[mark]] for rel, r, c, mark in tagging.cells(span)
                ]
                out[row].append((span, float(sum(probs)) / len(probs)))
        return out

    def _add(
        self,
        found: dict[tuple, PredictedTriple],
        text: str,
        window: _Window,
        offsets: list[tuple[int, int]],
        triples: list[tuple[tagging.SpanTriple, float]],
    ) -> None:
        """Map a window's token-span triples to the text's characters; overlapping windows keep the best."""
        for (rel, hb, he, tb, te), confidence in triples:
            hs, he_ = (window.start + x for x in tokens_to_char_span(offsets, hb, he))
            ts, te_ = (window.start + x for x in tokens_to_char_span(offsets, tb, te))
            key = (hs, he_, rel, ts, te_)
            if key not in found or found[key].confidence < confidence:
                head = Entity(hs, he_, text[hs:he_], self.config.head_types[rel])
                tail = Entity(ts, te_, text[ts:te_], self.config.tail_types[rel])
                found[key] = PredictedTriple(head, self.config.relations[rel], tail, confidence)


def triples_frame(ids: list[str], triples: list[list[PredictedTriple]], model_version: str) -> pd.DataFrame:
    """One row per triple, in the pipeline's triple columns."""
    rows = [
        (sent_id, t.head.text, t.head.type, t.head.start, t.head.end, t.relation,
         t.tail.text, t.tail.type, t.tail.start, t.tail.end, t.confidence, model_version)
        for sent_id, per_text in zip(ids, triples, strict=True)
        for t in per_text
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=TRIPLE_COLUMNS).astype(TRIPLE_DTYPES)


def _check_writable(out: Path) -> None:
    """Fail before the model runs, not after hours of extraction, where the output cannot be written: a folder
    of that name, or a file in the way of its folder."""
    if out.is_dir():
        raise _unwritable(out, "a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(out, e.strerror or str(e)) from e


def _unwritable(out: Path, cause: str) -> DataFormatError:
    return DataFormatError(
        f"--out {out}: cannot write the triples ({cause})",
        hint="Name a .jsonl or .parquet file in a folder you can write, e.g. --out triples.jsonl",
    )


def extract_file(
    model_dir: Path | str,
    input_path: Path | str,
    out_path: Path | str,
    device: str = "auto",
    batch_size: int = AUTO_BATCH,
    row_block: int | None = None,
    min_confidence: float | None = None,
    decode: Decode = utf8,
    json_texts: JsonTexts | None = None,
) -> pd.DataFrame:
    """Extract from a .txt/.md file, a .jsonl or .json file where `json_texts` reads it, or a folder of those
    into a .jsonl or .parquet file of triple rows named by their texts' sources; return the rows.

    `min_confidence` None uses the model's calibrated threshold (`Extractor.extract`); `decode` turns each
    file's bytes into text (`extractor.texts.read_texts`).
    """
    out = Path(out_path)
    if out.suffix not in (".jsonl", ".parquet"):
        raise DataFormatError(f"{out}: the output must end in .jsonl or .parquet")
    _check_writable(out)
    records = read_texts(input_path, decode, json_texts)
    extractor = Extractor.load(model_dir, device, batch_size, row_block)
    triples = extractor.extract([text for _, text in records], progress=True, min_confidence=min_confidence)
    frame = triples_frame([i for i, _ in records], triples, extractor.model_version)
    try:
        if out.suffix == ".parquet":
            frame.to_parquet(out, index=False)
        else:
            frame.to_json(out, orient="records", lines=True, force_ascii=False)
    except OSError as e:
        raise _unwritable(out, e.strerror or str(e)) from e
    log.info("%d triples from %d texts -> %s", len(frame), len(records), out)
    return frame
