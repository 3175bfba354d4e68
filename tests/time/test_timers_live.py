"""Against REAL server processes (`gongdan serve`), with the server's clock moved through
`GONGDAN_CLOCK_FILE`: SIGKILL while timers are due (some fired, some still pending),
restart, every due timer fired exactly once and no outbox message was written twice; on
PostgreSQL, two server processes on one database fire each timer once; on SQLite, two
server processes on one file: only the lease holder fires, the other takes over when the
holder is killed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gongdan.demo import demo_ticket
from tests.platform.conftest import _gongdan, free_port, stop, wait_healthy

TICKETS = 40
SLA_TIMERS = 4  # P0: respond warning and breach, resolve warning and breach


def _env(db_url: str, clock_file: Path) -> dict[str, str]:
    return {**os.environ, "GONGDAN_DATABASE_URL": db_url, "GONGDAN_LOG_LEVEL": "warning",
            "GONGDAN_CLOCK_FILE": str(clock_file), "GONGDAN_TIMER_INTERVAL": "0.05",
            "GONGDAN_OUTBOX_FALLBACK_CHANNEL": "log", "GONGDAN_OUTBOX_INTERVAL": "0.2",
            "GONGDAN_LEASE_TTL": "2"}


def _load_demo(env: dict[str, str]) -> str:
    out = subprocess.run(_gongdan("demo", "load", "--no-tickets"), env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    return out.stdout.strip().rsplit(" ", 1)[-1]


@contextlib.contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """One `gongdan serve` process (one worker: SIGKILL kills all of it)."""
    port = free_port()
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            _gongdan("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, log, pause=0.1)
        yield proc, url
    finally:
        stop(proc)


def _counts(url: str, token: str) -> dict[str, int]:
    r = httpx.get(url + "/api/timers", params={"limit": 1},
                  headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json()["counts"])


def _wait_all_fired(url: str, token: str, expected: int, timeout: float = 90) -> dict[str, int]:
    """The counts once `expected` timers fired and none is pending (or the time-out ran
    out), read again after that: the per-state counts are separate queries, so one read
    taken while timers fire can count a timer as pending and then as fired."""
    deadline = time.monotonic() + timeout
    while True:
        counts = _counts(url, token)
        if (counts["fired"] >= expected and counts["pending"] == 0) \
                or time.monotonic() > deadline:
            return _counts(url, token)
        time.sleep(0.2)


def _create_tickets(url: str, token: str) -> list[int]:
    h = {"Authorization": f"Bearer {token}"}
    ids = []
    with httpx.Client(base_url=url, headers=h, timeout=60) as c:
        for i in range(TICKETS):
            r = c.post("/api/lines/repair/tickets", json=demo_ticket(i, description="注塑机停机"))
            assert r.status_code == 201, r.text
            assert r.json()["sla"]["tier"] == "P0"
            ids.append(r.json()["id"])
    return ids


def _get(c: httpx.Client, url: str, **params: object) -> dict:
    r = c.get(url, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _check_each_fired_once(url: str, token: str, ids: list[int]) -> None:
    """Every ticket's four SLA timers fired once each (one event each, in an unbroken
    record), each firing wrote one outbox message per person it notified, and no
    idempotency key appears twice."""
    h = {"Authorization": f"Bearer {token}"}
    fired_by_events: list[int] = []
    keys: list[str] = []
    with httpx.Client(base_url=url, headers=h, timeout=60) as c:
        for i in ids:
            events = _get(c, f"/api/tickets/{i}/timeline")["events"]
            sla = [e for e in events if e["type"] in ("sla_warning", "sla_breached")]
            got = sorted((e["type"], e["data"]["clock"]) for e in sla)
            assert got == [("sla_breached", "resolve"), ("sla_breached", "respond"),
                           ("sla_warning", "resolve"), ("sla_warning", "respond")], (i, got)
            seqs = [e["seq"] for e in events]
            assert seqs == list(range(1, len(seqs) + 1))
            fired_by_events += [e["data"]["timer"] for e in sla]
            messages = [m["idempotency_key"] for m in
                        _get(c, "/api/outbox", ticket=i, limit=500)["items"]]
            timer_messages = sorted(k for k in messages if k.startswith("timer:"))
            expected = sorted(f"timer:{e['data']['timer']}:{n}" for e in sla
                              for n in range(len(e["data"]["notified"])))
            assert expected and timer_messages == expected, (i, timer_messages, expected)
            keys += messages
        fired = [t["id"] for t in _get(c, "/api/timers", state="fired", limit=1000)["items"]
                 if t["ticket_id"] in ids]
    assert sorted(fired_by_events) == sorted(fired)  # each fired timer: exactly one firing
    assert len(keys) == len(set(keys))


def _pending(url: str, token: str) -> list[dict]:
    r = httpx.get(url + "/api/timers", params={"state": "pending"},
                  headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return list(r.json()["items"])


def _counts_offline(env: dict[str, str], log: Path, token: str) -> dict[str, int]:
    """The timer counts as the database holds them, read by a server that fires nothing."""
    with server({**env, "GONGDAN_BACKGROUND": "false"}, log) as (_, url):
        return _counts(url, token)


def test_sigkill_while_timers_are_due_then_restart(db_url: str, tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    env = _env(db_url, clock_file)
    token = _load_demo(env)
    log = tmp_path / "server.log"
    expected = TICKETS * SLA_TIMERS
    with server(env, log) as (proc, url):
        ids = _create_tickets(url, token)
        assert _counts(url, token)["pending"] == expected
        clock_file.write_text(str(5 * 3600))  # five hours later: every SLA timer is due
        deadline = time.monotonic() + 30
        while _counts(url, token)["fired"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()  # SIGKILL, mid-way through the due timers
        proc.wait()
    at_kill = _counts_offline(env, log, token)
    # killed mid-way: some had fired, some were still due
    assert at_kill["fired"] > 0 and at_kill["pending"] > 0, at_kill
    assert at_kill["fired"] + at_kill["pending"] == expected, at_kill
    with server(env, log) as (_, url):
        counts = _wait_all_fired(url, token, expected)
        assert counts["fired"] == expected and counts["pending"] == 0, (counts, _pending(url, token))
        _check_each_fired_once(url, token, ids)


def _owners(url: str, token: str) -> dict[int, str]:
    r = httpx.get(url + "/api/timers", params={"state": "fired", "limit": 1000},
                  headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return {t["id"]: t["owner"] for t in r.json()["items"]}


@pytest.mark.postgres
def test_two_server_processes_fire_each_timer_once(tmp_path: Path) -> None:
    from tests.platform.conftest import database_url

    with database_url("postgres", tmp_path) as db_url:
        clock_file = tmp_path / "clock"
        clock_file.write_text("0")
        env = _env(db_url, clock_file)
        token = _load_demo(env)
        expected = TICKETS * SLA_TIMERS
        with server(env, tmp_path / "a.log") as (_, url_a), \
                server(env, tmp_path / "b.log") as (_, url_b):
            ids = _create_tickets(url_a, token)
            clock_file.write_text(str(5 * 3600))
            counts = _wait_all_fired(url_b, token, expected)
            assert counts["fired"] == expected and counts["pending"] == 0, counts
            _check_each_fired_once(url_a, token, ids)
            owners = set(_owners(url_a, token).values())
            assert 1 <= len(owners) <= 2


def test_two_sqlite_servers_one_lease_holder_then_takeover(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    env = _env(db_url, clock_file)
    token = _load_demo(env)
    h = {"Authorization": f"Bearer {token}"}
    with server(env, tmp_path / "a.log") as (proc_a, url_a), \
            server(env, tmp_path / "b.log") as (proc_b, url_b):
        deadline = time.monotonic() + 30
        while (lease := httpx.get(url_a + "/api/timers", headers=h, timeout=30)
               .json()["lease"]) is None or not lease["live"]:
            assert time.monotonic() < deadline, "nobody took the lease"
            time.sleep(0.1)
        holder = lease["holder"]
        pids = {proc_a.pid: (proc_a, url_b), proc_b.pid: (proc_b, url_a)}
        assert int(holder.rsplit(":", 1)[1]) in pids
        victim, survivor_url = pids[int(holder.rsplit(":", 1)[1])]
        ids = _create_tickets(url_a, token)
        clock_file.write_text(str(5 * 3600))
        expected = TICKETS * SLA_TIMERS
        counts = _wait_all_fired(url_b, token, expected)
        assert counts["fired"] == expected and counts["pending"] == 0, counts
        assert set(_owners(url_a, token).values()) == {holder}  # only the holder fired
        _check_each_fired_once(url_a, token, ids)

        victim.kill()  # SIGKILL the holder: the other takes over once its lease runs out
        victim.wait()
        more = _create_tickets(survivor_url, token)
        clock_file.write_text(str(10 * 3600))
        counts = _wait_all_fired(survivor_url, token, 2 * expected)
        assert counts["fired"] == 2 * expected and counts["pending"] == 0, counts
        lease = httpx.get(survivor_url + "/api/timers", headers=h, timeout=30).json()["lease"]
        assert lease["holder"] != holder and lease["live"]
        owners = _owners(survivor_url, token)
        assert len(set(owners.values())) == 2
        _check_each_fired_once(survivor_url, token, more)
