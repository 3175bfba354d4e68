"""`benchmarks/bench_rules.py --quick` runs to the end and prints every figure.

A benchmark that no longer runs (a ruleset that stopped compiling cleanly, a renamed
helper) fails here, under `make test`, instead of in `make bench` only. The figures of a
quick run mean nothing; only that each is printed is checked, never a timing.
"""

from __future__ import annotations

import os
import subprocess
import sys

from rules.kit import ROOT

SCRIPT = ROOT / "benchmarks" / "bench_rules.py"

FIGURES = [
    "a. repair: classify+route(50)+can_close, mean/ticket",
    "per-call p50",
    "per-call p99",
    "classify(), a ticket seen for the first time",
    "route() (its own classify is a cache hit)",
    "can_close()",
    "b. predicate: rs.classify() vs rule-engine, per eval",
    "rs.classify() vs JSON-Logic (panzi-json-logic)",
    "c. classify, 1,000 keywords vs 10 keywords",
    "the same on never-seen texts (normalisation not cached)",
    "d. parse+check+compile 2000 lines",
    "repair.rules (160 lines), fresh process, first compile",
]


def test_bench_rules_quick_runs_every_benchmark() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BENCH_QUICK", "GONGDAN_DSL_EXAMPLES")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True,
                          timeout=600, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "FAILED" not in proc.stdout
    printed = [line.strip() for line in proc.stdout.splitlines()]
    for figure in FIGURES:
        # each figure is printed as it is measured ("  name | ours | …"), then again in the table
        assert any(line.startswith(figure) and " | " in line for line in printed), f"no figure line {figure!r}"
        assert sum(line.startswith(figure) for line in printed) >= 2, f"{figure!r} missing from the final table"
