"""Dispatch: routing one ticket among many engineers, and create-and-route through HTTP.

    python benchmarks/bench_dispatch.py                       # both parts
    python benchmarks/bench_dispatch.py --skip-http           # only the in-process part
    BENCH_QUICK=1 python benchmarks/bench_dispatch.py         # a smoke run

a. In process, for two rulesets side by side: the demo's `repair.rules` (the contract's
   example: `现场维修` needs skill >= 3, within 5 km, on shift, below max load; `远程支持`
   needs skill >= 1) and the shipped repair pack's (`templates/gongdan_pack_repair`, the same
   pools with a 15 km radius). Each routes 200 generated tickets among 1,000 and 10,000
   engineers spread over Shanghai, through an `EngineerIndex` (what the server uses) and
   through a naive loop that scores everyone (`rs.route(ticket, list)`); both must offer
   the same engineers. Median and p99 ms per ticket.
b. Through HTTP: `POST /api/lines/repair/tickets` against a running `gongdan serve` (SQLite,
   one worker): every create classifies, routes and stores its offers and decision in the
   same transaction. With the 3 demo engineers and with 1,000 imported engineers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gongdan.demo import repair_rules_source
from gongdan_rules import EngineerIndex, compile_ruleset

HERE = Path(__file__).resolve().parent
QUICK = bool(os.environ.get("BENCH_QUICK"))
SKILLS = ["PLC调试", "液压", "电气", "机械"]
CITY = (31.2304, 121.4737)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def make_engineers(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        max_load = rng.choice([3, 4, 5, 6])
        out.append({
            "id": f"E{i:05d}", "name": f"工程师{i:05d}",
            "skills": {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))},
            "load": rng.randint(0, max_load), "max_load": max_load, "on_shift": rng.random() < 0.7,
            "location": {"lat": CITY[0] + rng.uniform(-0.3, 0.3), "lon": CITY[1] + rng.uniform(-0.35, 0.35)},
            "team": f"{i % 40}组", "recent_assignments": [], "idle_since": None,
        })
    return out


def make_tickets(n: int, rng: random.Random) -> list[dict[str, Any]]:
    return [{"description": rng.choice(["注塑机停机", "液压站漏油", "PLC 报警", "噪音偏大"]),
             "fault_code": "E-205", "device_category": rng.choice(["注塑机", "PLC", "数控机床"]),
             "category": "设备维修", "onsite": rng.random() < 0.8, "required_skill": rng.choice(SKILLS),
             "location": {"lat": CITY[0] + rng.uniform(-0.25, 0.25), "lon": CITY[1] + rng.uniform(-0.3, 0.3)},
             "state": "新建"} for _ in range(n)]


def _ms(ns: list[int]) -> tuple[float, float]:
    ns = sorted(ns)
    return statistics.median(ns) / 1e6, ns[min(len(ns) - 1, int(len(ns) * 0.99))] / 1e6


def rulesets() -> list[tuple[str, Any]]:
    """(label, compiled ruleset): the demo's and the repair pack's."""
    out = [("demo repair.rules (5 km)", compile_ruleset(repair_rules_source(), filename="repair.rules"))]
    try:
        import gongdan_pack_repair
    except ImportError:
        return out
    out.append(("pack gongdan_pack_repair (15 km)",
                compile_ruleset(gongdan_pack_repair.rules_source(), filename="pack-repair.rules")))
    return out


def in_process() -> None:
    for label, rs in rulesets():
        in_process_one(label, rs)


def in_process_one(label: str, rs: Any) -> None:
    rng = random.Random(7)  # the same engineers and tickets for every ruleset
    tickets = make_tickets(50 if QUICK else 200, rng)
    print(f"a. {label}: route one ticket ({len(tickets)} tickets), per ticket: median / p99 ms")
    print(f"{'engineers':>10} {'pool share':>12} {'EngineerIndex':>18} {'score everyone':>18} {'ratio':>7} "
          f"{'considered (median)':>20}")
    for n in (1_000, 10_000):
        people = make_engineers(n, rng)
        index = EngineerIndex(people)
        for t in tickets:  # same answers, so the comparison is fair
            a, b = rs.route(t, index, NOW), rs.route(t, people, NOW)
            assert a.offered == b.offered, (a.offered, b.offered)
        times: dict[str, list[int]] = {"index": [], "naive": []}
        considered = []
        gc.disable()
        try:
            for _ in range(1 if QUICK else 3):
                for t in tickets:
                    for name, target in (("index", index), ("naive", people)):
                        start = time.perf_counter_ns()
                        d = rs.route(t, target, NOW)
                        times[name].append(time.perf_counter_ns() - start)
                        if name == "index":
                            considered.append(d.considered)
        finally:
            gc.enable()
        (im, ip), (nm, np_) = _ms(times["index"]), _ms(times["naive"])
        onsite = sum(1 for t in tickets if t["onsite"]) / len(tickets)
        print(f"{n:>10,} {f'{onsite:.0%} on-site':>12} {f'{im:.2f} / {ip:.2f}':>18} {f'{nm:.2f} / {np_:.2f}':>18} "
              f"{im / nm:>7.2f} {statistics.median(considered):>20.0f}")
        for pool_label, subset in (("on-site pool", [t for t in tickets if t["onsite"]]),
                              ("remote pool", [t for t in tickets if not t["onsite"]])):
            part: dict[str, list[int]] = {"index": [], "naive": []}
            gc.disable()
            try:
                for t in subset:
                    for name, target in (("index", index), ("naive", people)):
                        start = time.perf_counter_ns()
                        rs.route(t, target, NOW)
                        part[name].append(time.perf_counter_ns() - start)
            finally:
                gc.enable()
            (a, ap), (b, bp) = _ms(part["index"]), _ms(part["naive"])
            print(f"{'':>10} {pool_label:>12} {f'{a:.2f} / {ap:.2f}':>18} {f'{b:.2f} / {bp:.2f}':>18} {a / b:>7.2f}")
    print()


def _http_module() -> Any:
    spec = importlib.util.spec_from_file_location("gongdan_bench_http_create_for_dispatch",
                                                  HERE / "bench_http_create.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _csv(n: int, rng: random.Random) -> bytes:
    lines = ["工号,姓名,技能,负载上限,班组,位置"]
    for e in make_engineers(n, rng):
        skills = "; ".join(f"{k}:{v}" for k, v in e["skills"].items())
        loc = f"{e['location']['lat']:.5f},{e['location']['lon']:.5f}"
        lines.append(f"{e['id']},{e['name']},\"{skills}\",{e['max_load']},{e['team']},\"{loc}\"")
    return ("\n".join(lines) + "\n").encode("utf-8")


def over_http(requests: int, concurrency: int) -> None:
    http = _http_module()
    print(f"\nb. create-and-route through HTTP (SQLite, 1 worker): {requests} creates, {concurrency} in flight")
    for label, extra in (("3 demo engineers", 0), ("1,000 engineers", 1000)):
        with http._database("sqlite") as db_url, http._server(db_url, 1) as (url, token, pid):
            if extra:
                headers = {"Authorization": f"Bearer {token}"}
                data = _csv(extra, random.Random(3))
                r = httpx.post(url + "/api/engineers/import", headers=headers, timeout=300,
                               files={"file": ("team.csv", data, "text/csv")})
                assert r.status_code == 200, r.text
                ids = [line.split(",", 1)[0] for line in data.decode().splitlines()[1:]]
                with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                    for eid in ids[: extra // 2]:
                        c.post(f"/api/engineers/{eid}/on-shift")
            result = asyncio.run(http._run(url, token, requests, concurrency, pid))
        print(http._line(label, result), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--requests", type=int, default=100 if QUICK else 500)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args(argv)
    in_process()
    if not args.skip_http:
        over_http(args.requests, args.concurrency)


if __name__ == "__main__":
    main()
