"""Every benchmark in `benchmarks/` still runs, on tiny sizes, under `make test`.

A benchmark that broke (a helper whose shape changed, a ruleset that stopped compiling)
used to surface only in `make bench`. These runs check that each script exits 0 and prints
its figures; the figures of such small runs mean nothing and no timing is ever checked.
`bench_rules.py` has its own, finer test (tests/rules/test_bench_smoke.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUNS = {
    "calendars": ([], "add 30 days of business time"),
    "connectors": ([], "send webhook (local server)"),
    "dispatch": (["--requests", "20"], "create-and-route through HTTP"),
    "http_create": (["--engines", "sqlite", "--workers", "1", "--requests", "20"],
                    "sqlite, 1 worker(s)"),
    "timers": (["--pending", "2000", "--rate", "50", "--seconds", "2"], "p99"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_runs(name: str) -> None:
    args, expected = RUNS[name]
    env = {**os.environ, "BENCH_QUICK": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"bench_{name}.py"), *args],
                          capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert expected in out, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
