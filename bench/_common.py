"""Helpers shared by the bench scripts (not part of the product)."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CONCIERGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEV_QA = SHARED_DATA / "dev-qa"


def bench_clock():  # noqa: ANN201
    """The benches' clock: the machine's, in the default time zone (benches are entry points)."""
    from zoneinfo import ZoneInfo

    from knowledge.clock import system_clock

    return system_clock(ZoneInfo("Europe/Paris"))


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of the values by nearest rank; 0.0 for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table, so the output pastes into the README and notes as is."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])
