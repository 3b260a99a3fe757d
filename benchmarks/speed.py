"""What NRS-OneRel costs: training step time and memory against a reference-style OneRel head, extraction
throughput against the bare encoder, and the memory that row-block scoring saves on the longest inputs.

    python -m benchmarks.speed [--quick] [--device cpu|cuda] [--encoder tiny|bge|small|base|DIR] [--out FILE]

The three parts (`training`, `inference`, `row_block`), their arms, the encoder shapes and how time and memory
are measured: docs/results_speed.md, "Method". Imports only torch, transformers, numpy, pandas, safetensors
and tqdm (through the extractor), so it runs on a bare GPU machine.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from benchmarks.common import DATA_ROOT, RESULTS_DIR, log_progress, machine, text_table, write_json
from benchmarks.reference_head import ReferenceOneRel, onerel_labels
from extractor import infer
from extractor.batching import EncodedExample, collate, pad_inputs
from extractor.configuration import NRSOneRelConfig
from extractor.device import hand_back_freed_memory, keep_freed_memory, trim_freed_memory
from extractor.encoders.tiny import TinyEncoderConfig, build_tiny_encoder
from extractor.model import NRSOneRelModel
from extractor.sampling import sample_relations
from extractor.splitting import window_spans
from extractor.texts import read_texts
from nrskg.errors import ModelError
from pipeline.reading import json_texts

log = logging.getLogger(__name__)

DEFAULT_TEXTS = DATA_ROOT / "cmeie" / "unlabelled.jsonl"

# Random BERTs of known shapes (see the module docstring).
ENCODER_SHAPES = {
    "tiny": TinyEncoderConfig(),
    "bge": TinyEncoderConfig(hidden=512, layers=4, heads=8, intermediate=2048),  # bge-small-zh: the default
    "small": TinyEncoderConfig(hidden=384, layers=12, heads=12, intermediate=1536),  # e5-small
    "base": TinyEncoderConfig(hidden=768, layers=12, heads=12, intermediate=3072),  # BERT-base, BERT-wwm
}
GOAL_TRAIN_RATIO = 0.35  # goal: our NS = 10 step at most 0.35x the reference-style step
GOAL_INFER_RATIO = 0.7  # goal: extraction at least 0.7x the bare encoder's sentences/s
HEADLINE_NS = 10
ENCODER_ONLY = "encoder only"
NO_DISTANCE = "ours, no distance"  # without the token distance (--distance-buckets 0) at NS = HEADLINE_NS
NO_BETWEEN = "ours, no between"  # without the mean of the tokens between (--no-between-context), the same NS
WITHOUT = {NO_DISTANCE: {"distance_buckets": 0}, NO_BETWEEN: {"between_context": False}}  # their settings
PARTS = ("training", "inference", "row_block")
GOLD_TRIPLES = 3  # gold triples per synthetic training sentence
GOLD_RELATIONS = 4  # they use the first few relation types: fewer than the smallest NS, so NS is exact


@dataclass
class SpeedConfig:
    device: str = "cpu"
    encoder: str = "bge"  # a key of ENCODER_SHAPES or a local HuggingFace directory
    texts_path: str | None = str(DEFAULT_TEXTS)  # None or missing: synthetic texts
    model_dir: str | None = None  # a trained checkpoint for the inference part (default: a fresh model)
    amp: bool = True  # bf16 autocast on CUDA; training steps also on a CPU with native bf16
    # CPU runs only. One thread: on a shared machine OpenMP threads wait for each other at every barrier; a
    # tiny-encoder step measured 300-3400 ms with 2 threads against 70-170 ms with 1 at load average 10.
    cpu_threads: int = 1
    parts: tuple[str, ...] = PARTS  # which of the three measurements to run
    seed: int = 13
    # training
    lengths: tuple[int, ...] = (64, 128, 256)
    num_relations: int = 44  # K, as CMeIE
    ns_values: tuple[int, ...] = (5, 10, 20, 44)
    batch_size: int = 8
    warmup_steps: int = 2
    timed_steps: int = 5
    d_e: int = 256
    dropout: float = 0.1
    lr: float = 1e-4
    # inference
    infer_texts: int = 1000  # 0: all texts
    infer_batch_size: int = 32
    infer_repeats: int = 1  # passes per measurement; the median is kept
    # row blocks
    long_tokens: int = 512  # input tokens with both specials: the model's max_tokens
    long_batch: int = 2
    row_block: int = 32


def preset(quick: bool, device: str) -> SpeedConfig:
    """The documented full run, or --quick (well under 10 minutes on a 2-core CPU); CUDA affords more."""
    if quick:
        return SpeedConfig(
            device=device, batch_size=2, warmup_steps=1, timed_steps=3, infer_texts=32, long_batch=1
        )
    if device.startswith("cuda"):
        return SpeedConfig(device=device, batch_size=16, warmup_steps=3, timed_steps=10, infer_texts=0,
                           infer_repeats=3, long_batch=8)  # fmt: skip
    return SpeedConfig(device=device, batch_size=4, warmup_steps=1, infer_texts=128)


# ---- measuring ---------------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Wall seconds of fn(), with the GPU's queue drained before and after."""
    _sync(device)
    started = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - started


def _proc_status_kb(key: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE).group(1))


def _release_cpu_memory() -> None:
    """Hand freed heap pages back to the OS, so the next peak is not hidden in the allocator's cache."""
    gc.collect()
    trim_freed_memory()  # not glibc: a no-op, and the peak may then read low


def memory_method(device: torch.device) -> str:
    if device.type == "cuda":
        return "torch.cuda.max_memory_allocated (peak) minus memory_allocated before"
    return "CPU: peak RSS (VmHWM, reset through /proc/self/clear_refs) minus RSS before; not tracemalloc"


@dataclass
class PeakMemory:
    """Peak memory over a `with` block: `peak_mb` absolute, `delta_mb` above what was in use at entry."""

    device: torch.device
    base: int = 0
    peak: int = 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            _release_cpu_memory()
            self.base = _proc_status_kb("VmRSS") * 1024
            Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS to the current RSS
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self.peak = _proc_status_kb("VmHWM") * 1024

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)

    @property
    def delta_mb(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)


def autocast(device: torch.device, amp: bool, training: bool = False):
    """The extractor's own autocast (bf16 on CUDA; for training also on a CPU with native bf16), or none."""
    return infer.autocast(device, cpu_bf16=training) if amp else nullcontext()


# ---- inputs ------------------------------------------------------------------------------------------------


def load_texts(path: str | None, seed: int) -> tuple[list[str], str]:
    """The unlabelled CMeIE sentences when the file is there, else synthetic CJK text of similar lengths."""
    if path and Path(path).is_file():
        texts = [text for _, text in read_texts(path, json_texts=json_texts) if text.strip()]
        return texts, str(path)
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.normal(90, 45, size=2000), 8, 400).astype(int)
    chars = np.array([chr(c) for c in range(0x4E00, 0x4E00 + 3000)] + list("，。；（）0123456789%"))
    texts = ["".join(rng.choice(chars, size=n)) for n in lengths]
    return texts, "synthetic (no texts file)"


def prepare_encoder(spec: str, texts: list[str], workdir: Path) -> str:
    """A HuggingFace directory for `spec`: a random BERT of a named shape, built here, or the given folder."""
    if spec in ENCODER_SHAPES:
        return str(build_tiny_encoder(texts, workdir / f"encoder-{spec}", ENCODER_SHAPES[spec]))
    if not (Path(spec) / "config.json").is_file():
        raise ModelError(
            f"encoder {spec!r}: expected one of {sorted(ENCODER_SHAPES)} or a HuggingFace folder"
        )
    return spec


def model_config(
    num_relations: int, d_e: int, dropout: float, encoder: str, **settings: object
) -> NRSOneRelConfig:
    """Our model's config, the defaults but for `settings` (an arm's `WITHOUT`)."""
    return NRSOneRelConfig(
        encoder=encoder,
        relations=[f"relation_{k:02d}" for k in range(num_relations)],
        head_types=["Head"] * num_relations,
        tail_types=["Tail"] * num_relations,
        d_e=d_e,
        dropout=dropout,
        **settings,
    )


def synthetic_batch(
    length: int, batch_size: int, vocab_size: int, first_id: int, rng: np.random.Generator
) -> list[EncodedExample]:
    """Sentences of exactly `length` text tokens (no padding), each with a few gold triples (their arguments
    are the mentions)."""
    items = []
    for _ in range(batch_size):
        ids = rng.integers(first_id, vocab_size, size=length).tolist()
        spans = set()
        for _ in range(GOLD_TRIPLES):
            hb, tb = (int(x) for x in rng.integers(0, length, size=2))
            he, te = (
                min(hb + int(rng.integers(0, 4)), length - 1),
                min(tb + int(rng.integers(0, 4)), length - 1),
            )
            spans.add((int(rng.integers(0, GOLD_RELATIONS)), hb, he, tb, te))
        mentions = sorted({(s[1], s[2]) for s in spans} | {(s[3], s[4]) for s in spans})
        offsets = [(i, i + 1) for i in range(length)]
        items.append(EncodedExample([first_id, *ids, first_id], offsets, sorted(spans), mentions=mentions))
    return items


# ---- 1. training step --------------------------------------------------------------------------------------


@dataclass
class Arm:
    """One model under test on one batch: `step()` runs a full training step."""

    name: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: Callable[[], torch.Tensor]
    amp: bool

    def step(self) -> None:
        """forward + backward + clipping + AdamW step, as `extractor.train` does it."""
        with autocast(next(self.model.parameters()).device, self.amp, training=True):
            loss = self.loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def make_arm(
    config: SpeedConfig,
    name: str,
    items: list[EncodedExample],
    relation_ids: np.ndarray,
    encoder: torch.nn.Module,
    pad_id: int,
    device: torch.device,
) -> Arm:
    """The reference-style model (all K), ours (`relation_ids` scored, with or without a term of `WITHOUT`)
    or the encoder alone, on a copy of `encoder`. The encoder alone (a mean-square loss on its states) is the
    floor the heads add to."""
    torch.manual_seed(config.seed)
    ours = name not in (ENCODER_ONLY, "reference")  # ours also scores the mention column, as training does
    batch = collate(items, relation_ids, pad_id, config.num_relations if ours else None).to(device)
    if name == ENCODER_ONLY:
        model = copy.deepcopy(encoder)

        def loss_fn() -> torch.Tensor:
            return (
                model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
                .last_hidden_state.float()
                .square()
                .mean()
            )
    elif name == "reference":
        model = ReferenceOneRel(copy.deepcopy(encoder), config.num_relations, config.d_e, config.dropout)
        labels = onerel_labels(batch.labels)

        def loss_fn() -> torch.Tensor:
            return model(batch.input_ids, batch.attention_mask, labels)
    else:
        mc = model_config(
            config.num_relations, config.d_e, config.dropout, config.encoder, **WITHOUT.get(name, {})
        )
        model = NRSOneRelModel(mc, copy.deepcopy(encoder))

        def loss_fn() -> torch.Tensor:
            return model(batch.input_ids, batch.attention_mask, batch.relation_ids, batch.labels).loss

    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, fused=True)  # as `extractor.train`
    return Arm(name, model, optimizer, loss_fn, config.amp)


def measure_arms(arms: list[Arm], config: SpeedConfig, device: torch.device) -> list[dict[str, object]]:
    """Warm-up and peak memory per arm, then timed steps taken in turn across the arms.

    Taking turns spreads whatever else the machine does over all arms alike, so the ratios stay fair on a
    shared CPU even when the absolute times are noisy.
    """
    out: list[dict[str, object]] = []
    for arm in arms:
        try:
            for _ in range(config.warmup_steps):
                arm.step()
            with PeakMemory(device) as memory:
                arm.step()
            out.append({"peak_mb": memory.peak_mb, "delta_mb": memory.delta_mb, "times": []})
        except torch.OutOfMemoryError as e:
            out.append({"error": f"out of memory: {str(e).splitlines()[0]}"})
        arm.optimizer.zero_grad(set_to_none=True)
        _free(device)
    for _ in range(config.timed_steps):
        for arm, row in zip(arms, out, strict=True):
            if "times" in row:
                row["times"].append(timed(arm.step, device))
    for row in out:
        times = row.pop("times", None)
        if times:
            row["step_ms"] = round(1000 * statistics.median(times), 2)
            row["step_ms_min"] = round(1000 * min(times), 2)
            row["step_ms_all"] = [round(1000 * t, 2) for t in times]
    return out


def bench_training(config: SpeedConfig, encoder_path: str, device: torch.device) -> list[dict[str, object]]:
    """One row per (L, arm): the reference-style head over all K, then ours at each NS; on the CPU with freed
    blocks kept for reuse, as `extractor.train` keeps them."""
    kept = device.type == "cpu" and keep_freed_memory()
    try:
        return _training_rows(config, encoder_path, device)
    finally:
        if kept:
            hand_back_freed_memory()


def _training_rows(config: SpeedConfig, encoder_path: str, device: torch.device) -> list[dict[str, object]]:
    tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    encoder = AutoModel.from_pretrained(encoder_path)  # every arm starts from a copy of these weights
    pad_id = tokenizer.pad_token_id or 0
    first_id = len(tokenizer.all_special_ids)
    rng = np.random.default_rng(config.seed)
    k = config.num_relations
    rows: list[dict[str, object]] = []
    for length in config.lengths:
        items = synthetic_batch(length, config.batch_size, len(tokenizer), first_id, rng)
        positive = {span[0] for item in items for span in item.spans}
        plan: list[tuple[str, int, np.ndarray]] = [
            (ENCODER_ONLY, 0, np.arange(0)),
            ("reference", k, np.arange(k)),
        ]
        plan += [("ours", ns, sample_relations(positive, k, ns, rng)) for ns in config.ns_values]
        plan += [
            (arm, ns, ids)
            for arm in WITHOUT
            for name, ns, ids in plan
            if name == "ours" and ns == HEADLINE_NS
        ]
        arms = [make_arm(config, name, items, ids, encoder, pad_id, device) for name, _, ids in plan]
        for (name, ns, ids), measured in zip(plan, measure_arms(arms, config, device), strict=True):
            row = {"L": length, "arm": name, "ns": ns, "ns_scored": len(ids)} | measured
            rows.append(row)
            log.info("training %s", row)
        del arms
        _free(device)
    _add_ratios(rows)
    return rows


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _add_ratios(rows: list[dict[str, object]]) -> None:
    """Each row against the reference row of the same L: time_ratio (whole step, medians), time_ratio_min
    (fastest steps), memory_ratio (peak above the resting model), and head_ratio: the step time each head
    adds to the encoder-only step, ours over the reference's."""
    reference = {r["L"]: r for r in rows if r["arm"] == "reference" and "step_ms" in r}
    floor = {r["L"]: r["step_ms"] for r in rows if r["arm"] == ENCODER_ONLY and "step_ms" in r}
    for row in rows:
        ref = reference.get(row["L"])
        if ref is None or "step_ms" not in row:
            continue
        if row["L"] in floor and row["arm"] != ENCODER_ONLY:
            row["head_ms"] = round(row["step_ms"] - floor[row["L"]], 2)
            ref_head = ref["step_ms"] - floor[row["L"]]
            row["head_ratio"] = round(row["head_ms"] / ref_head, 3) if ref_head > 0 else None
        row["time_ratio"] = round(row["step_ms"] / ref["step_ms"], 3)
        row["time_ratio_min"] = round(row["step_ms_min"] / ref["step_ms_min"], 3)
        row["memory_ratio"] = round(row["delta_mb"] / ref["delta_mb"], 3) if ref["delta_mb"] > 0 else None


# ---- 2. inference throughput -------------------------------------------------------------------------------


class InOrderExtractor(infer.Extractor):
    """Extraction without length bucketing: `batch_size` windows in input order (what bucketing saves)."""

    def batches(self, lengths: list[int]) -> list[list[int]]:
        size = self.batch_size
        return [list(range(i, min(i + size, len(lengths)))) for i in range(0, len(lengths), size)]


def quiet_head(model: NRSOneRelModel) -> None:
    """Make almost every cell empty ("-"), as it is in a trained model.

    An untrained head marks about half of all K L^2 cells, and decoding them would swamp the measurement. The
    pair features are ReLU outputs (>= 0), so a relation matrix of negative entries gives every mark logit a
    negative score (no mark); for the softmax loss a positive `-` column makes class `-` win instead.
    """
    config = model.config
    with torch.no_grad():
        r = model.head.relation_matrix.view(config.d_e, config.num_columns, config.num_labels)
        if config.loss == "softmax":
            r[:, :, 0] = r.abs().max()
        else:
            r.copy_(-r.abs())


def build_inference_model(config: SpeedConfig, encoder_path: str, out_dir: Path) -> Path:
    """A fresh model with a quiet head, saved as a checkpoint, so extraction runs its real loading path."""
    tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    mc = model_config(config.num_relations, config.d_e, config.dropout, config.encoder)
    model = NRSOneRelModel(mc, AutoModel.from_pretrained(encoder_path))
    quiet_head(model)
    model.save_pretrained(out_dir, tokenizer)
    return out_dir


def _encoder_pass(
    extractor: infer.Extractor, batches: list[tuple[torch.Tensor, torch.Tensor]], amp: bool
) -> None:
    encoder = extractor.model.encoder
    with torch.no_grad(), autocast(extractor.device, amp):
        for input_ids, attention_mask in batches:
            encoder(
                input_ids=input_ids.to(extractor.device), attention_mask=attention_mask.to(extractor.device)
            )


def bench_inference(
    config: SpeedConfig, model_dir: Path, texts: list[str], device: torch.device
) -> list[dict]:
    """Texts/s of `Extractor.extract` and of the bare encoder over the same padded batches.

    "length buckets" is extraction as shipped (batches filled to the device's budget of token pairs);
    "input order" batches `infer_batch_size` windows as they come.
    """
    model, tokenizer = NRSOneRelModel.from_pretrained(model_dir)
    extractor = infer.Extractor(model, tokenizer, str(device))
    in_order = InOrderExtractor(model, tokenizer, str(device), config.infer_batch_size)
    windows = [
        text[start:end]
        for text in texts
        for start, end in window_spans(text, extractor.config.window_chars, extractor.config.window_stride)
        if end > start
    ]  # exactly the windows `extract` scores
    tokens = extractor.tokenizer(windows)
    lengths = [len(t.input_ids) for t in tokens]
    extractor.extract(texts[: 2 * config.infer_batch_size])  # warm-up: kernels, caches, lazy allocations
    rows = []
    for bucketing, arm in (("length buckets", extractor), ("input order", in_order)):
        batches = [pad_inputs([tokens[i].input_ids for i in b], arm.pad_id) for b in arm.batches(lengths)]
        found: list[int] = []

        def extract(arm=arm, found=found) -> None:
            found.append(sum(len(t) for t in arm.extract(texts)))

        encoder_s = statistics.median(
            timed(lambda batches=batches: _encoder_pass(extractor, batches, config.amp), device)
            for _ in range(config.infer_repeats)
        )
        extract_s = statistics.median(timed(extract, device) for _ in range(config.infer_repeats))
        padded = sum(ids.numel() for ids, _ in batches)
        row = {
            "batching": bucketing,
            "texts": len(texts),
            "windows": len(windows),
            "batches": len(batches),
            "padding_share": round(1 - sum(lengths) / padded, 3),
            "extract_s": round(extract_s, 3),
            "extract_texts_per_s": round(len(texts) / extract_s, 1),
            "encoder_s": round(encoder_s, 3),
            "encoder_texts_per_s": round(len(texts) / encoder_s, 1),
            "ratio": round(encoder_s / extract_s, 3),
            "triples_found": found[-1],
        }
        rows.append(row)
        log.info("inference %s", row)
    return rows


# ---- 3. row blocks on the longest inputs -------------------------------------------------------------------


def bench_row_block(config: SpeedConfig, model_dir: Path, device: torch.device) -> list[dict[str, object]]:
    """Peak memory and time of scoring all K on `long_batch` inputs of `long_tokens` tokens."""
    model, tokenizer = NRSOneRelModel.from_pretrained(model_dir)
    model.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    first_id = len(tokenizer.all_special_ids)
    shape = (config.long_batch, config.long_tokens)
    input_ids = torch.randint(first_id, len(tokenizer), shape, generator=generator).to(device)
    attention_mask = torch.ones(shape, dtype=torch.long, device=device)
    rows = []
    for row_block in (None, config.row_block):
        predict = lambda rb=row_block: model.predict(input_ids, attention_mask, rb)  # noqa: E731
        with autocast(device, config.amp):
            predict()  # warm-up
            _free(device)
            try:
                with PeakMemory(device) as memory:
                    seconds = timed(predict, device)
                row = {"ms": round(1000 * seconds, 1), "peak_mb": memory.peak_mb, "delta_mb": memory.delta_mb}
            except torch.OutOfMemoryError as e:
                row = {"error": f"out of memory: {str(e).splitlines()[0]}"}
        rows.append({"tokens": config.long_tokens, "batch": config.long_batch, "row_block": row_block} | row)
        log.info("row blocks %s", rows[-1])
    return rows


# ---- the run -----------------------------------------------------------------------------------------------


def headline(result: dict[str, object]) -> dict[str, object]:
    """The headline numbers, with the goals they are held against (docs/results_speed.md)."""
    ours = [r for r in result["training"] if r["arm"] == "ours" and r["ns"] == HEADLINE_NS]
    train = {str(r["L"]): r.get("time_ratio") for r in ours}
    head = {str(r["L"]): r.get("head_ratio") for r in ours}
    distance, between = (_step_ratio(ours, result["training"], arm) for arm in (NO_DISTANCE, NO_BETWEEN))
    infer_rows = {r["batching"]: r["ratio"] for r in result["inference"]}
    blocks = {r["row_block"]: r for r in result["row_block"] if "delta_mb" in r}
    full, capped = blocks.get(None), next((r for k, r in blocks.items() if k is not None), None)
    return {
        f"train_time_ratio_ns{HEADLINE_NS}_by_L": train,
        f"head_time_ratio_ns{HEADLINE_NS}_by_L": head,
        f"distance_time_ratio_ns{HEADLINE_NS}_by_L": distance,  # our step / the same step without distance
        f"between_time_ratio_ns{HEADLINE_NS}_by_L": between,  # our step / the same without the tokens between
        "train_goal": GOAL_TRAIN_RATIO,
        "extract_vs_encoder": infer_rows,
        "infer_goal": GOAL_INFER_RATIO,
        "row_block_memory_ratio": (
            round(capped["delta_mb"] / full["delta_mb"], 3)
            if full and capped and full["delta_mb"] > 0
            else None
        ),
    }


def _step_ratio(ours: list[dict[str, object]], rows: list[dict[str, object]], arm: str) -> dict[str, float]:
    """Per L, our step's median time over `arm`'s (one of `WITHOUT`), measured on the same batch."""
    without = {r["L"]: r for r in rows if r["arm"] == arm and "step_ms" in r}
    return {
        str(r["L"]): round(r["step_ms"] / without[r["L"]]["step_ms"], 3)
        for r in ours
        if "step_ms" in r and r["L"] in without
    }


def run(config: SpeedConfig) -> dict[str, object]:
    """All three measurements; returns the JSON-ready result."""
    device = infer.resolve_device(config.device)
    if device.type == "cpu" and config.cpu_threads > 0:
        torch.set_num_threads(config.cpu_threads)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    texts, source = load_texts(config.texts_path, config.seed)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        encoder_path = prepare_encoder(config.encoder, texts, workdir)
        training = bench_training(config, encoder_path, device) if "training" in config.parts else []
        model_dir = (
            Path(config.model_dir)
            if config.model_dir
            else build_inference_model(config, encoder_path, workdir / "model")
        )
        picked = texts[: config.infer_texts] if config.infer_texts else texts
        inference = bench_inference(config, model_dir, picked, device) if "inference" in config.parts else []
        row_block = bench_row_block(config, model_dir, device) if "row_block" in config.parts else []
    result: dict[str, object] = {
        "config": asdict(config),
        "machine": machine(
            device=str(device),
            cpu_threads=torch.get_num_threads(),
            **({"bf16": torch.cuda.is_bf16_supported()} if device.type == "cuda" else {}),
        ),
        "memory_method": memory_method(device),
        "texts_source": source,
        "training": training,
        "inference": inference,
        "row_block": row_block,
    }
    result["headline"] = headline(result)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


TRAIN_COLUMNS = ["L", "arm", "ns", "ns_scored", "step_ms", "step_ms_min", "head_ms", "delta_mb", "peak_mb",
                 "time_ratio", "time_ratio_min", "head_ratio", "memory_ratio", "error"]  # fmt: skip
INFER_COLUMNS = ["batching", "texts", "windows", "batches", "padding_share", "extract_texts_per_s",
                 "encoder_texts_per_s", "ratio", "triples_found"]  # fmt: skip
ROW_BLOCK_COLUMNS = ["tokens", "batch", "row_block", "ms", "delta_mb", "peak_mb", "error"]


def report(result: dict[str, object]) -> str:
    """The three tables and the headline, as printed at the end of a run."""
    return "\n\n".join([
        f"machine: {result['machine']}\nmemory: {result['memory_method']}\ntexts: {result['texts_source']}",
        "training step (forward + backward + AdamW); ratios against the reference row of the same L:\n"
        + text_table(result["training"], TRAIN_COLUMNS),
        "inference (ratio = extract texts/s / bare encoder texts/s):\n"
        + text_table(result["inference"], INFER_COLUMNS),
        "row-block scoring of the longest inputs:\n" + text_table(result["row_block"], ROW_BLOCK_COLUMNS),
        f"headline: {json.dumps(result['headline'])}\nwall: {result['wall_s']} s",
    ])  # fmt: skip


def default_out(config: SpeedConfig, quick: bool) -> Path:
    """benchmarks/results/speed[_quick][_cuda][_<encoder>][_<part>...].json: one file per kind of run."""
    suffix = "_quick" if quick else ""
    suffix += "_cuda" if config.device.startswith("cuda") else ""
    suffix += f"_{Path(config.encoder).name}" if config.encoder != "bge" else ""
    suffix += "".join(f"_{part}" for part in config.parts) if set(config.parts) != set(PARTS) else ""
    return RESULTS_DIR / f"speed{suffix}.json"


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches and fewer steps and texts")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--encoder", default="bge", help=f"{', '.join(ENCODER_SHAPES)} or a HuggingFace folder"
    )
    parser.add_argument(
        "--texts", default=str(DEFAULT_TEXTS), help=".jsonl/.txt texts (synthetic when absent)"
    )
    parser.add_argument("--model", default=None, help="a trained checkpoint for the inference part")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument(
        "--no-amp", action="store_true", help="full precision: no bf16 on CUDA, nor in CPU training steps"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON output (default benchmarks/results/speed*.json)"
    )
    args = parser.parse_args(argv)
    log_progress()
    config = replace(
        preset(args.quick, args.device), encoder=args.encoder, texts_path=args.texts, model_dir=args.model,
        amp=not args.no_amp, cpu_threads=args.threads, parts=tuple(args.only or PARTS),
    )  # fmt: skip
    result = run(config)
    out = write_json(args.out or default_out(config, args.quick), result)
    print(report(result))
    print(f"-> {out}")
    return result


if __name__ == "__main__":
    main()
