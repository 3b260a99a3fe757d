"""What keeping freed memory in the process (`extractor.device.keep_freed_memory`) does to CPU training steps.

The same training steps (bge-small-zh's shape or a given encoder, batches of 16 sentences at the lengths of
DiaKG's 128-character windows, NS = 10, fused AdamW as `extractor.train` steps) run in fresh processes with
glibc's default and with freed blocks kept, in turn, round after round; the table gives each arm's median
step time, system time, page faults and peak resident memory, and the ratios. Its own processes, because the
setting is process-wide and cannot be undone.

    python -m benchmarks.freed_memory --encoder encoders/bge-small-zh   # 3 rounds, ~4 min on 2 cores
    python -m benchmarks.freed_memory --quick                           # a small random encoder, seconds
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from benchmarks.common import RESULTS_DIR, machine, text_table, write_json
from benchmarks.speed import load_texts, model_config, prepare_encoder, synthetic_batch
from extractor.batching import collate
from extractor.device import keep_freed_memory
from extractor.model import NRSOneRelModel
from extractor.sampling import sample_relations_per_example

ROOT = Path(__file__).resolve().parents[1]  # where `python -m benchmarks.freed_memory` imports from
ARMS = ("glibc default", "freed kept")
LENGTHS = (40, 128, 70, 100, 128, 60, 90, 110)  # window lengths in tokens, in this order, once per pass
NUM_RELATIONS, NS, BATCH = 16, 10, 16  # DiaKG's 16 relation types, the default NS and batch


def child(arm: str, encoder: str, passes: int, threads: int) -> dict[str, object]:
    """One arm in this process: a warm-up pass over LENGTHS, then `passes` timed passes."""
    if threads:
        torch.set_num_threads(threads)
    kept = keep_freed_memory() if arm == ARMS[1] else False
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = prepare_encoder(encoder, load_texts(None, 0)[0], Path(tmp))
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = NRSOneRelModel(
            model_config(NUM_RELATIONS, 256, 0.1, encoder), AutoModel.from_pretrained(path)
        )
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    first_id = len(tokenizer.all_special_ids)

    def step(length: int) -> None:
        items = synthetic_batch(length, BATCH, len(tokenizer), first_id, rng)
        positives = [{span[0] for span in item.spans} for item in items]
        batch = collate(items, sample_relations_per_example(positives, NUM_RELATIONS, NS, rng), 0)
        model(batch.input_ids, batch.attention_mask, batch.relation_ids, batch.labels).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for length in LENGTHS:
        step(length)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(passes):
        for length in LENGTHS:
            step(length)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    steps = passes * len(LENGTHS)
    return {
        "arm": arm,
        "kept": kept,
        "step_ms": round(1000 * wall / steps, 1),
        "sys_ms_per_step": round(1000 * (after.ru_stime - before.ru_stime) / steps, 1),
        "page_faults_per_step": round((after.ru_minflt - before.ru_minflt) / steps),
        "peak_rss_mb": round(after.ru_maxrss / 1024),  # Linux reports KiB
    }


def run(encoder: str, rounds: int, passes: int, threads: int) -> dict[str, object]:
    """Both arms in fresh processes, in turn, `rounds` times; medians per arm and ratios kept / default."""
    runs = []
    for r in range(rounds):
        for arm in ARMS:
            args = [sys.executable, "-m", "benchmarks.freed_memory", "--child", arm, "--encoder", encoder,
                    "--passes", str(passes), "--threads", str(threads)]  # fmt: skip
            out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
            runs.append({"round": r, **json.loads(out.strip().splitlines()[-1])})
            print(json.dumps(runs[-1]), file=sys.stderr)
    keys = ("step_ms", "sys_ms_per_step", "page_faults_per_step", "peak_rss_mb")
    medians = {
        arm: {k: statistics.median(x[k] for x in runs if x["arm"] == arm) for k in keys} for arm in ARMS
    }
    rows = [{"arm": arm, **medians[arm]} for arm in ARMS]
    rows.append(
        {"arm": "ratio", **{k: round(medians[ARMS[1]][k] / max(medians[ARMS[0]][k], 1e-9), 3) for k in keys}}
    )
    settings = {
        "encoder": encoder,
        "rounds": rounds,
        "passes": passes,
        "lengths": LENGTHS,
        "batch": BATCH,
        "ns": NS,
    }
    return settings | {
        "machine": machine(cpu_threads=threads or torch.get_num_threads()),
        "runs": runs,
        "table": rows,
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="bge", help="a HuggingFace folder, or a random shape: tiny, bge")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2, help="timed passes over the lengths per process")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="the tiny random encoder, 1 round of 1 pass")
    parser.add_argument("--child", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.encoder, args.passes, args.threads)))
        return {}
    encoder, rounds, passes = ("tiny", 1, 1) if args.quick else (args.encoder, args.rounds, args.passes)
    result = run(encoder, rounds, passes, args.threads)
    columns = ["arm", "step_ms", "sys_ms_per_step", "page_faults_per_step", "peak_rss_mb"]
    print(text_table(result["table"], columns))
    out = args.out or RESULTS_DIR / ("freed_memory_quick.json" if args.quick else "freed_memory.json")
    print(f"wrote {write_json(out, result)}")
    return result


if __name__ == "__main__":
    main()
