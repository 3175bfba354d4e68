"""The create benchmark fails clearly, with the server's output, when the server cannot
start (it used to carry on and measure nothing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_http_create", ROOT / "benchmarks" / "bench_http_create.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_server_that_cannot_start_fails_with_its_output(tmp_path: Path) -> None:
    bench = _bench()
    bad = "postgresql://postgres@127.0.0.1:9/no_such_database"  # nothing listens on port 9
    with pytest.raises(bench.ServerDidNotStart) as info, bench._server(bad, 1, wait_s=20):
        pytest.fail("the server should not have started")
    message = str(info.value)
    assert "failed" in message or "exited" in message
    assert "9" in message and len(message) > 60  # the command's own output is included


def test_cpu_of_a_process_tree_is_counted() -> None:
    import os

    bench = _bench()
    sum(i * i for i in range(200_000))  # burn a little CPU in this process
    assert bench._cpu_seconds(os.getpid()) > 0
