"""NRS-OneRel: a transformer encoder and OneRel's relation-specific horns tagging head, on sampled relations.

Reads top to bottom: the output type, the head, the model (forward, predict), then saving and loading.

Shapes: B batch, T input tokens (with both specials), L = T - 1 table size (the leading [CLS] is dropped, so
table index n is text token n; the trailing [SEP] and padding are masked), d encoder hidden, d_e pair hidden,
K relations, NS scored relations (per sentence in training), C logits per cell (3 marks, or 8 classes for the
softmax loss: `extractor.losses`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from extractor.configuration import NRSOneRelConfig, TrainConfig, load_config, save_config
from extractor.losses import IGNORE_INDEX, cell_classes, mark_probabilities, marked, marked_cells, table_loss
from nrskg.errors import ModelError
from nrskg.files import new_file_mode

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
# The encoder's own config.json and the tokenizer files; the weights live in WEIGHTS_NAME.
ENCODER_DIR = "encoder"


@dataclass
class NRSOneRelOutput:
    loss: torch.Tensor | None  # the configured loss over scored cells, when labels are given
    logits: torch.Tensor  # (B, L, L, NS, C)


@dataclass
class CellPredictions:
    """Sparse predicted tables: N non-empty cells of the (B, L, L, K) class tables."""

    index: torch.Tensor  # (N, 4): batch row, head token, tail token, relation
    classes: torch.Tensor  # (N,) predicted class (a set of marks, `tagging`), never 0
    mark_probs: torch.Tensor  # (N, 3) P(cell carries HB-TB, HB-TE, HE-TE)


# Distances beyond this many tokens share the farthest bucket (a window is 128 characters).
MAX_DISTANCE = 128


def distance_bucket(distance: torch.Tensor, buckets: int) -> torch.Tensor:
    """Signed token distance j - i -> bucket id in [0, buckets): half the buckets for each sign, a quarter
    exact (near distances), the rest log-spaced out to MAX_DISTANCE, as T5 buckets relative positions."""
    half = buckets // 2
    exact = max(half // 2, 1)
    size = distance.abs()
    scale = (half - exact) / math.log(MAX_DISTANCE / exact)
    far = exact + (torch.log(size.clamp(min=1).float() / exact) * scale).long()
    bucket = torch.where(size < exact, size, far.clamp(max=half - 1))
    return bucket + (distance > 0) * half


class OneRelHead(nn.Module):
    """v_ij = R^T ReLU(W_s s_i + W_o o_j + b [+ D_(j-i)] [+ W_c mean_(i<t<j) h_t]): OneRel's W[s_i; o_j]
    split into two projections.

    W[s;o] is linear, so it equals W_s s + W_o o. Projecting tokens once, broadcast-adding over (i, j), costs
    O(L d d_e + L^2 d_e) instead of the O(L^2 d d_e) of materialising the L x L x 2d concatenation. With
    `distance_buckets` (the default; 0 is OneRel's formula), a learnt vector per bucket of the signed
    distance j - i joins the sum: the projections of two tokens say what they are, not how far apart. It
    starts at zero, so training starts from OneRel's formula; on DiaKG it reaches the F1 OneRel's formula
    plateaus at in about half the epochs (docs/results.md). With `between_context` (the default), the mean of
    the projected token vectors strictly between i and j joins it too, from zero: what separates two mentions
    (a clause, a full stop, a list) says whether they relate, and recall fell with the distance between them.
    """

    def __init__(self, hidden_size: int, config: NRSOneRelConfig) -> None:
        super().__init__()
        self.num_labels = config.num_labels
        self.w_s = nn.Linear(hidden_size, config.d_e)  # its bias is the b of the formula
        self.w_o = nn.Linear(hidden_size, config.d_e, bias=False)
        self.dropout = nn.Dropout(config.dropout)  # token vectors
        self.pair_dropout = nn.Dropout(config.pair_dropout) if config.pair_dropout else None
        self.distance = None
        if config.distance_buckets:
            self.distance = nn.Embedding(config.distance_buckets, config.d_e)
            nn.init.zeros_(self.distance.weight)
        self.between = None
        if config.between_context:  # starts at zero too: training starts from the formula without it
            self.between = nn.Linear(hidden_size, config.d_e, bias=False)
            nn.init.zeros_(self.between.weight)
        # R: one (d_e, C) block per relation, stored flat (d_e, K * C) like the paper's d_e x 4K matrix; with
        # `mention_column` one more block after the K, trained on mentions and never extracted.
        self.relation_matrix = nn.Parameter(torch.empty(config.d_e, config.num_columns * config.num_labels))
        nn.init.xavier_uniform_(self.relation_matrix)

    def forward(
        self, hidden: torch.Tensor, relation_ids: torch.Tensor, row_block: int | None = None
    ) -> torch.Tensor:
        """Logits (B, L, L, NS, C) for the relations `relation_ids` only: (NS,) for every row, or (B, NS)."""
        blocks = list(self.row_blocks(hidden, relation_ids, row_block))
        return torch.cat(blocks, dim=1) if len(blocks) > 1 else blocks[0]

    def row_blocks(
        self, hidden: torch.Tensor, relation_ids: torch.Tensor, row_block: int | None = None
    ) -> Iterator[torch.Tensor]:
        """Logits (B, rows, L, NS, C) for successive blocks of `row_block` head rows, to cap memory."""
        d_e = self.relation_matrix.shape[0]
        # (d_e, NS, C), or (d_e, B, NS, C) when each sentence scores its own relations; only these get grads.
        r = self.relation_matrix.view(d_e, -1, self.num_labels)[:, relation_ids]
        product = "bijd,dnc->bijnc" if relation_ids.dim() == 1 else "bijd,dbnc->bijnc"
        hidden = self.dropout(hidden)
        s = self.w_s(hidden)  # (B, L, d_e)
        o = self.w_o(hidden)  # (B, L, d_e)
        length = hidden.shape[1]
        step = row_block or length
        if self.distance is not None:  # bucket ids once per call, their vectors block by block
            positions = torch.arange(length, device=hidden.device)
            buckets = distance_bucket(positions[None, :] - positions[:, None], self.distance.num_embeddings)
        if self.between is not None:  # prefix sums: sums[:, k] = c_0 + ... + c_(k-1), so each mean is O(1)
            # In fp32: the means are differences of sums that grow along the sentence.
            sums = nn.functional.pad(
                self.between(hidden).float().cumsum(dim=1), (0, 0, 1, 0)
            )  # (B, L + 1, d_e)
        for i in range(0, length, step):
            pair = s[:, i : i + step, None, :] + o[:, None, :, :]  # (B, rows, L, d_e)
            if self.distance is not None:
                pair += self.distance(buckets[i : i + step])  # (rows, L, d_e): D_(j-i), shared by the batch
            if self.between is not None:
                pair = AddBetweenMeans.apply(pair, sums, i, min(i + step, length))
            pair = pair.relu_()  # in place
            if self.pair_dropout is not None:
                pair = self.pair_dropout(pair)
            yield torch.einsum(product, pair, r)  # (B, rows, L, NS, C)


def between_weights(first: int, stop: int, length: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(rows, L) weights of the mean between head rows i in [first, stop) and columns j: 1 / the tokens
    strictly between them where j > i + 1 (`after`) and where j < i - 1 (`before`), 0 elsewhere."""
    rows = torch.arange(first, stop, device=device)[:, None]
    cols = torch.arange(length, device=device)[None, :]
    gap = (cols - rows).abs()
    scale = (gap > 1) / (gap - 1).clamp(min=1)
    return scale * (cols > rows), scale * (cols < rows)


class AddBetweenMeans(torch.autograd.Function):
    """Adds to the pair features `pair` (B, rows, L, d_e) of head rows i in [first, stop), in place, the mean
    of c_t over the tokens strictly between i and each column j (0 where none), from the prefix sums
    (B, L + 1, d_e) of c.

    Tokens i < t < j sum to sums[j] - sums[i + 1], tokens j < t < i to sums[i] - sums[j + 1]: four broadcast
    multiply-adds into `pair`, no table-sized temporary (in fp32 first where `pair` is bf16). The backward
    pass contracts the table's gradient with the (rows, L) weights row-wise and column-wise, reading it once
    each, where autograd would write it out masked twice. Its step cost: docs/results_speed.md (`ours, no
    between`)."""

    @staticmethod
    def forward(ctx: Any, pair: torch.Tensor, sums: torch.Tensor, first: int, stop: int) -> torch.Tensor:
        ctx.first, ctx.stop, ctx.sums_dtype = first, stop, sums.dtype
        length = sums.shape[1] - 1
        after, before = (
            w.to(sums.dtype)[..., None] for w in between_weights(first, stop, length, sums.device)
        )
        if pair.dtype == sums.dtype:
            pair.addcmul_(sums[:, None, :length], after)  # j > i: + sums[j] ...
            pair.addcmul_(sums[:, first + 1 : stop + 1, None], after, value=-1)  # ... - sums[i + 1]
            pair.addcmul_(sums[:, first:stop, None], before)  # j < i: + sums[i] ...
            pair.addcmul_(sums[:, None, 1:], before, value=-1)  # ... - sums[j + 1]
        else:  # bf16 pair features: the two sums cancel in fp32 first, or rounding would swamp the mean
            term = (sums[:, None, :length] - sums[:, first + 1 : stop + 1, None]).mul_(after)
            pair.add_(term.add_((sums[:, first:stop, None] - sums[:, None, 1:]).mul_(before)))
        ctx.mark_dirty(pair)
        return pair

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        first, stop = ctx.first, ctx.stop
        table = grad.to(ctx.sums_dtype)  # the sums stay fp32 where the pair features are bf16
        length = table.shape[2]
        weights = torch.stack(between_weights(first, stop, length, table.device)).to(table.dtype)
        # weights (2, rows, L): the `after` and `before` weights of `forward`
        by_row = torch.matmul(weights.transpose(0, 1), table)  # (B, rows, 2, d_e): sums over j
        by_column = torch.einsum("bijd,kij->bkjd", table, weights)  # (B, 2, L, d_e): sums over i
        sums = table.new_zeros(table.shape[0], length + 1, table.shape[3])
        sums[:, :length] += by_column[:, 0]
        sums[:, 1:] -= by_column[:, 1]
        sums[:, first + 1 : stop + 1] -= by_row[:, :, 0]
        sums[:, first:stop] += by_row[:, :, 1]
        return grad, sums, None, None


def table_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L) True at text tokens: positions 1 .. n of the input, i.e. not [CLS], [SEP] or padding."""
    lengths = attention_mask.sum(dim=1) - 2  # (B,) text tokens per row
    positions = torch.arange(attention_mask.shape[1] - 1, device=attention_mask.device)  # (L,)
    return positions[None, :] < lengths[:, None]


class NRSOneRelModel(nn.Module):
    def __init__(self, config: NRSOneRelConfig, encoder: nn.Module) -> None:
        super().__init__()
        if config.num_relations == 0:
            raise ModelError("the model config lists no relations")
        if not (len(config.head_types) == len(config.tail_types) == config.num_relations):
            raise ModelError(
                f"{config.num_relations} relations but {len(config.head_types)} head types "
                f"and {len(config.tail_types)} tail types"
            )
        if config.distance_buckets < 0 or config.distance_buckets == 1:
            raise ModelError(
                f"distance_buckets is {config.distance_buckets}: "
                "use 0 (no distance) or at least 2 (one per sign)"
            )
        self.config = config
        self.encoder = encoder
        self.head = OneRelHead(encoder.config.hidden_size, config)

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        attention_mask: torch.Tensor,  # (B, T)
        relation_ids: torch.Tensor | None = None,  # (NS,) or (B, NS) relation ids; None scores all K
        labels: torch.Tensor | None = None,  # (B, L, L, NS) class ids, IGNORE_INDEX where not scored
        row_block: int | None = None,
    ) -> NRSOneRelOutput:
        if relation_ids is None:
            relation_ids = torch.arange(self.config.num_relations, device=input_ids.device)
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state  # (B, T, d)
        logits = self.head(hidden[:, 1:], relation_ids, row_block)  # (B, L, L, NS, C)

        loss = None
        if labels is not None:
            valid = table_mask(attention_mask)  # (B, L)
            cells = valid[:, :, None] & valid[:, None, :]  # (B, L, L)
            labels = labels.masked_fill(~cells[..., None], IGNORE_INDEX)  # (B, L, L, NS)
            loss = table_loss(self.config.loss, logits, labels, self.config.positive_weight)
        return NRSOneRelOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def predict(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, row_block: int | None = None
    ) -> CellPredictions:
        """The non-empty cells of the predicted tables over all K relations, scored block by block.

        With `row_block` only rows x L x d_e pair features and rows x L x K x C logits exist at a time; the
        result is sparse: a sentence has a few dozen non-empty cells among its K L^2.
        """
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state  # (B, T, d)
        valid = table_mask(attention_mask)  # (B, L)
        every = torch.arange(self.config.num_relations, device=input_ids.device)  # (K,)
        step = row_block or valid.shape[1]
        found = []
        for start, logits in zip(
            range(0, valid.shape[1], step), self.head.row_blocks(hidden[:, 1:], every, row_block), strict=True
        ):  # logits (B, rows, L, K, C)
            # One cheap pass finds the non-empty cells; classes and probabilities are taken on those few only
            # (a softmax over all K L^2 cells was 60% of CPU extraction time).
            cells = valid[:, start : start + step, None] & valid[:, None, :]  # (B, rows, L)
            hit = (marked_cells(self.config.loss, logits) & cells).nonzero()  # (M, 3): b, row, col
            per_cell = logits[hit.unbind(dim=1)]  # (M, K, C): the few cells marked for some relation
            cell, k = marked(self.config.loss, per_cell).nonzero().unbind(dim=1)
            index = torch.cat([hit[cell], k[:, None]], dim=1)  # (N, 4): b, row, col, k
            picked = per_cell[cell, k]  # (N, C)
            classes = cell_classes(self.config.loss, picked)
            probs = mark_probabilities(self.config.loss, picked)
            found.append((index + index.new_tensor([0, start, 0, 0]), classes, probs))
        index, classes, probs = (torch.cat(parts) for parts in zip(*found, strict=True))
        # One canonical order (batch row, head, tail, relation) whatever the block size.
        L, K = valid.shape[1], self.config.num_relations
        order = (((index[:, 0] * L + index[:, 1]) * L + index[:, 2]) * K + index[:, 3]).argsort()
        return CellPredictions(index=index[order], classes=classes[order], mark_probs=probs[order])

    # ---- saving and loading: one directory, loadable offline ----

    def save_pretrained(
        self, out_dir: Path | str, tokenizer: PreTrainedTokenizerBase, train_config: TrainConfig | None = None
    ) -> None:
        """config.json (with the train config), model.safetensors, and encoder/ (its config + tokenizer)."""
        out = Path(out_dir)
        (out / ENCODER_DIR).mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "pt"})
        (out / WEIGHTS_NAME).chmod(new_file_mode())  # safetensors writes 0600; the registry is shared
        self.encoder.config.save_pretrained(out / ENCODER_DIR)
        tokenizer.save_pretrained(out / ENCODER_DIR)
        save_config(out / CONFIG_NAME, self.config, train_config)

    @classmethod
    def from_pretrained(cls, model_dir: Path | str) -> tuple[NRSOneRelModel, PreTrainedTokenizerBase]:
        """The model (eval mode, CPU) and its tokenizer from a directory written by `save_pretrained`."""
        path = Path(model_dir)
        if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
            raise ModelError(f"{path}: not a model directory (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
        try:
            config, _ = load_config(path / CONFIG_NAME)
            encoder_config = AutoConfig.from_pretrained(path / ENCODER_DIR, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(path / ENCODER_DIR, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{path}: cannot read the model configuration or tokenizer: {e}") from e
        model = cls(config, AutoModel.from_config(encoder_config))
        try:
            model.load_state_dict(load_file(str(path / WEIGHTS_NAME)))
        except SafetensorError as e:  # truncated or not safetensors at all
            raise ModelError(
                f"{path / WEIGHTS_NAME} is not a complete safetensors file ({e})",
                hint="Copy the model directory again, or train it again",
            ) from e
        except (OSError, RuntimeError) as e:  # one line: torch lists every mismatched tensor on its own
            detail = " ".join(str(e).split())
            raise ModelError(
                f"{path}: weights do not match its config ({detail[:300]}{'…' if len(detail) > 300 else ''})",
                hint="Use the config.json saved with these weights, or train the model again",
            ) from e
        return model.eval(), tokenizer


def build_model(config: NRSOneRelConfig, encoder_path: str) -> tuple[NRSOneRelModel, PreTrainedTokenizerBase]:
    """A fresh head on a pretrained encoder (a local directory, or a hub id already in the local cache)."""
    try:
        encoder = AutoModel.from_pretrained(encoder_path)
        tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot load encoder {encoder_path!r}: {e}") from e
    return NRSOneRelModel(config, encoder), tokenizer
