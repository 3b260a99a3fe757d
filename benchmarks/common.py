"""What every benchmark shares: where data and results live, the machine a result was measured on, how
results are written and printed. Standard library only (torch is imported when asked for), so the graph
benchmarks do not load torch and every benchmark runs on a bare GPU machine."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = REPO.parent / "shared" / "data"
RESULTS_DIR = REPO / "benchmarks" / "results"
DOCS_DIR = REPO / "docs"


def machine(*, with_torch: bool = True, **extra: object) -> dict[str, object]:
    """The machine a result was measured on, stored with it: timings compare only between like machines, and
    a shared machine's load average says how far to trust them. `extra` adds the benchmark's own facts."""
    info: dict[str, object] = {
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
    }
    if with_torch:
        import torch

        from extractor.device import cpu_has_bf16

        info["torch"] = torch.__version__
        info["cpu_bf16"] = cpu_has_bf16()  # whether training steps on the CPU run in bf16 (extractor.device)
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name()
    return info | extra


def _cpu_name() -> str:
    """The CPU's model name (`platform.processor()` is often empty or just the architecture on Linux)."""
    cpuinfo = Path("/proc/cpuinfo")
    found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M) if cpuinfo.is_file() else None
    return found.group(1).strip() if found else platform.processor() or platform.machine()


def write_json(path: Path, data: dict) -> Path:
    """`data` as indented UTF-8 JSON at `path`, its folder made if needed; rewritten as a run goes on, so a
    stopped benchmark keeps what it measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def text_table(rows: list[dict], columns: list[str]) -> str:
    """A plain text table, right-aligned; missing values print as '-'."""
    cells = [[("-" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def first_lines(path: Path, n: int, out: Path) -> Path:
    """The first `n` lines of `path` written to `out` (a JSONL file's first `n` documents, for quick runs)."""
    with path.open(encoding="utf-8") as f:
        out.write_text("".join(line for _, line in zip(range(n), f, strict=False)), encoding="utf-8")
    return out


def log_progress(**levels: int) -> None:
    """Timed progress lines on stderr; `levels` quiets chatty loggers (`neo4j=logging.ERROR`)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
