"""Faults an operator will meet, with what the member or staff saw, chunks lost and answers duplicated.

    python bench/faults.py [--files 400] [--quick]

Each row is also a small test in tests/integration/test_faults.py (and the Slack / Teams / Chroma server
tests): the scenarios live in tests/faults.py. Real parts throughout: the embedded Chroma store or a real
`chroma run` server, the real Ingestor, the real bolt App against a local Slack Web API that records calls.
The kill scenarios use the fast hashing embedder paced like nothing (only the store is under test), plus one
run of the real `ingest.py` with the real model killed mid-way. Baseline: what a re-run must equal, a clean
ingestion of the same folder (chunk id for chunk id, text, metadata and vector).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=400, help="files in the kill scenarios' corpus")
    parser.add_argument("--quick", action="store_true", help="skip the real-model ingest.py scenario")
    args = parser.parse_args()

    from tests import faults
    from tests.chroma_server import ChromaServer

    scenarios = [(f"kill {moment}", lambda tmp, moment=moment: faults.kill_ingestion(tmp, moment, files=args.files))
                 for moment in ("embed:20", "chunks:2", "manifest:2", "remove:3", "done:1")]
    if not args.quick:
        scenarios.append(("kill real ingest.py",
                          lambda tmp: faults.kill_real_ingest(tmp, 0.75, files=max(60, args.files // 2))))
    scenarios.append(("reingest embedded", lambda tmp: faults.reingest_while_answering(tmp, files=200)))

    def server_reingest(tmp: Path) -> faults.Outcome:
        with ChromaServer(tmp / "server") as url:
            return faults.reingest_while_answering(tmp, files=200, chroma_url=url)

    scenarios.append(("reingest server", server_reingest))
    scenarios += [
        ("chroma outage", faults.chroma_server_outage),
        ("slack 429", lambda tmp: faults.slack_post_refused(tmp, 429, 2)),
        ("slack 500", lambda tmp: faults.slack_post_refused(tmp, 500, 1)),
        ("two reingests", faults.two_reingests_at_once),
    ]

    rows, failed = [], 0
    for _name, run in scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            outcome = run(Path(tmp))
            seconds = time.perf_counter() - started
        failed += not outcome.ok
        rows.append([outcome.scenario, outcome.seen + (f" ({outcome.detail})" if outcome.detail else ""),
                     outcome.chunks_lost, outcome.duplicated, "yes" if outcome.ok else "NO", f"{seconds:.1f}"])
        print(f"done: {outcome.scenario}", file=sys.stderr)
    print(table(["scenario", "what the member or staff saw", "chunks lost", "answers duplicated", "as expected",
                 "s"], rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
