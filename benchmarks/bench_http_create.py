"""Tickets created per second through HTTP against a running `gongdan serve`.

    python benchmarks/bench_http_create.py                 # SQLite and PostgreSQL, 1 and 2 workers
    python benchmarks/bench_http_create.py --engines sqlite --workers 1 --requests 500
    python benchmarks/bench_http_create.py --url http://127.0.0.1:8000 --token gd_...  # yours

Each configuration gets a fresh database with the demo repair line (its rules active when
gongdan_rules is installed), a warm-up, then `--requests` creates with `--concurrency` in
flight. Prints tickets/s and p50/p99 latency. The load generator runs on the same machine
and takes CPU from the server: figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx

from gongdan.demo import demo_ticket

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _gongdan(*args: str) -> list[str]:
    return [sys.executable, "-c", "from gongdan.cli import main; main()", *args]


def _cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process `root` and all its descendants (Linux /proc):
    on a shared, busy machine CPU per ticket says more than tickets per second."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(c for c, p in parents.items() if p == pid and c not in tree)
    return sum(times.get(pid, 0.0) for pid in tree)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _database(engine: str) -> Iterator[str]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    import asyncpg

    name = f"gongdan_bench_{secrets.token_hex(4)}"

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(sql(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


class ServerDidNotStart(RuntimeError):
    """`gongdan serve` exited or did not answer /health in time."""


@contextlib.contextmanager
def _server(db_url: str, workers: int, *, wait_s: float = 60.0
            ) -> Iterator[tuple[str, str, int]]:
    env = {**os.environ, "GONGDAN_DATABASE_URL": db_url, "GONGDAN_LOG_LEVEL": "warning"}
    out = subprocess.run(_gongdan("demo", "load", "--no-tickets"), env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise ServerDidNotStart(f"gongdan demo load failed ({out.returncode}):\n"
                                f"{out.stdout}\n{out.stderr}")
    token = out.stdout.strip().rsplit(" ", 1)[-1]
    port = _port()
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed below; shown on failure
    proc = subprocess.Popen(
        _gongdan("serve", "--port", str(port), "--workers", str(workers)), env=env,
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def output() -> str:
        log.seek(0)
        return log.read()[-8000:]

    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                raise ServerDidNotStart(
                    f"gongdan serve exited with {proc.returncode} before answering:\n{output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise ServerDidNotStart(
                    f"gongdan serve did not answer {url}/health within {wait_s:.0f} s:\n"
                    f"{output()}")
            time.sleep(0.1)
        yield url, token, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def _run(url: str, token: str, requests: int, concurrency: int,
               server_pid: int | None = None) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for i in range(min(50, requests)):  # warm-up: connections, caches, compiled rules
            await client.post("/api/lines/repair/tickets", json=demo_ticket(100000 + i))

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                r = await client.post("/api/lines/repair/tickets", json=demo_ticket(i))
                latencies.append(time.perf_counter() - start)
                if r.status_code != 201:
                    errors += 1

        cpu0 = _cpu_seconds(server_pid) if server_pid else 0.0
        client0 = time.process_time()
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        cpu = (_cpu_seconds(server_pid) - cpu0) if server_pid else float("nan")
        client = time.process_time() - client0
    latencies.sort()
    return {
        "per_s": requests / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
        "cpu_ms": cpu / requests * 1000,
        "client_ms": client / requests * 1000,
        "load": os.getloadavg()[0],
    }


def _line(label: str, r: dict[str, float]) -> str:
    return (f"{label:<28} {r['per_s']:8.1f} tickets/s   p50 {r['p50_ms']:6.1f} ms   "
            f"p99 {r['p99_ms']:6.1f} ms   errors {int(r['errors'])}   "
            f"CPU/ticket server {r['cpu_ms']:4.1f} ms, client {r['client_ms']:4.1f} ms   "
            f"load {r['load']:.1f}")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one line per configuration."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--url", help="benchmark a server you started (needs --token)")
    p.add_argument("--token")
    args, _ = p.parse_known_args(argv)  # run.py calls main() with its own argv
    print(f"bench_http_create: POST /api/lines/repair/tickets, {args.requests} requests, "
          f"{args.concurrency} in flight")
    if args.url:
        print(_line(args.url, asyncio.run(_run(args.url, args.token, args.requests,
                                                 args.concurrency))))
        return
    for engine in args.engines.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            with _database(engine) as db_url, _server(db_url, workers) as (url, token, pid):
                result = asyncio.run(_run(url, token, args.requests, args.concurrency, pid))
            print(_line(f"{engine}, {workers} worker(s)", result), flush=True)


if __name__ == "__main__":
    main()
