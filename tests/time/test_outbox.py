"""The outbox on SQLite and PostgreSQL: rows written with the change, delivered after
commit, back-off with jitter honouring retry_after, dead letter, the admin API."""

from __future__ import annotations

import datetime as dt
import random

from gongdan.connectors import PermanentDeliveryError, RetryableDeliveryError
from gongdan.demo import demo_ticket
from gongdan.outbox import service
from gongdan.outbox.worker import OutboxWorker, backoff
from gongdan.settings import Settings
from gongdan.timers import clock
from tests.time.conftest import FakeSender, TimeApi, repair_line_with_rules


async def _ticket_in(api: TimeApi, state_path: list[str]) -> dict:
    r = await api.post("/api/lines/repair/tickets", demo_ticket(1))
    assert r.status_code == 201, r.text
    t = r.json()
    for to in state_path:
        r = await api.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    return t


async def _enqueue(api: TimeApi, key: str, channel: str = "log") -> None:
    async def work() -> None:
        async with api.db.transaction():
            await service.enqueue(key=key, channel=channel, template="状态变化", to="someone",
                                  context={"ticket": {"number": "WX-1"}, "from_state": "a",
                                           "to_state": "b"})

    await api.run(work)


async def test_then_notify_writes_the_outbox_and_the_worker_delivers(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await _ticket_in(tapi, ["已派单", "已到达", "诊断中"])
    r = await tapi.post(f"/api/tickets/{t['id']}/events", {"type": "parts_request"})
    assert r.status_code == 200, r.text
    assert r.json()["transition"]["to"] == "待备件"
    pending = (await tapi.get("/api/outbox", params={"state": "pending"})).json()["items"]
    assert len(pending) == 1
    msg = pending[0]
    assert msg["channel"] == "log" and msg["to"] == "role:仓储管理员"
    assert t["number"] in msg["text"] and "待备件" in msg["text"]
    sender = FakeSender()
    worker = OutboxWorker(tapi.db, tapi.settings, sender)
    assert await tapi.run(worker.run_once) == 1
    assert [m.idempotency_key for m in sender.sent] == [msg["idempotency_key"]]
    sent = (await tapi.get("/api/outbox", params={"state": "sent"})).json()["items"]
    assert [m["id"] for m in sent] == [msg["id"]] and sent[0]["attempts"] == 1
    assert await tapi.run(worker.run_once) == 0  # nothing twice


async def test_a_failed_change_writes_no_message(tapi: TimeApi) -> None:
    async def work() -> None:
        try:
            async with tapi.db.transaction():
                await service.enqueue(key="k1", channel="log", template="状态变化",
                                      context={"ticket": {"number": "X"}, "from_state": "a",
                                               "to_state": "b"})
                raise RuntimeError("the change fails")
        except RuntimeError:
            pass

    await tapi.run(work)
    assert (await tapi.get("/api/outbox")).json()["items"] == []


async def test_same_key_is_written_once(tapi: TimeApi) -> None:
    await _enqueue(tapi, "dup")
    await _enqueue(tapi, "dup")
    assert len((await tapi.get("/api/outbox")).json()["items"]) == 1


async def test_backoff_honours_retry_after_then_dead_letter_and_retry(tapi: TimeApi) -> None:
    settings = Settings(database_url=tapi.settings.database_url, outbox_max_attempts=3,
                        outbox_backoff_base=10, outbox_backoff_max=1000)
    sender = FakeSender()
    sender.fail = RetryableDeliveryError("429", retry_after=120)
    worker = OutboxWorker(tapi.db, settings, sender)
    await _enqueue(tapi, "m1")
    start = clock.now()
    assert await tapi.run(worker.run_once) == 1
    [row] = (await tapi.get("/api/outbox")).json()["items"]
    assert row["state"] == "pending" and row["attempts"] == 1 and "429" in row["last_error"]
    next_at = dt.datetime.fromisoformat(row["next_attempt_at"])
    assert next_at >= start + dt.timedelta(seconds=119)  # retry_after (120 s) beats 5-10 s
    assert await tapi.run(worker.run_once) == 0  # not due yet
    sender.fail = RetryableDeliveryError("503")
    clock.advance(dt.timedelta(seconds=121))
    assert await tapi.run(worker.run_once) == 1
    [row] = (await tapi.get("/api/outbox")).json()["items"]
    assert row["attempts"] == 2 and row["state"] == "pending"
    clock.advance(dt.timedelta(seconds=41))  # 2nd back-off: 20 s * (0.5..1)
    assert await tapi.run(worker.run_once) == 1
    [row] = (await tapi.get("/api/outbox", params={"state": "dead"})).json()["items"]
    assert row["attempts"] == 3 and "gave up" in row["last_error"]
    clock.advance(dt.timedelta(days=1))
    assert await tapi.run(worker.run_once) == 0  # dead stays dead
    # the admin retries it; now the channel works
    r = await tapi.post(f"/api/outbox/{row['id']}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "pending" and r.json()["attempts"] == 0
    sender.fail = None
    assert await tapi.run(worker.run_once) == 1
    assert [m.idempotency_key for m in sender.sent] == ["m1"]
    assert (await tapi.get("/api/outbox", params={"state": "sent"})).json()["items"][0]["id"] \
        == row["id"]
    r = await tapi.post(f"/api/outbox/{row['id']}/retry")
    assert r.status_code == 409 and r.json()["message_en"]


async def test_permanent_error_is_dead_at_once(tapi: TimeApi) -> None:
    sender = FakeSender()
    sender.fail = PermanentDeliveryError("bad key")
    await _enqueue(tapi, "m2")
    assert await tapi.run(OutboxWorker(tapi.db, tapi.settings, sender).run_once) == 1
    [row] = (await tapi.get("/api/outbox", params={"state": "dead"})).json()["items"]
    assert row["attempts"] == 1 and "bad key" in row["last_error"]


async def test_unknown_channel_falls_back_when_configured(tapi: TimeApi) -> None:
    settings = Settings(database_url=tapi.settings.database_url, outbox_fallback_channel="log")
    sender = FakeSender(channels=("log",))
    await _enqueue(tapi, "m3", channel="dingtalk")
    assert await tapi.run(OutboxWorker(tapi.db, settings, sender).run_once) == 1
    assert [m.channel for m in sender.sent] == ["log"]


async def test_a_crashed_send_is_claimed_again_after_the_lease(tapi: TimeApi) -> None:
    await _enqueue(tapi, "m4")
    worker = OutboxWorker(tapi.db, tapi.settings, FakeSender())
    claimed = await tapi.run(worker.claim, clock.now())  # claimed, then the process "dies"
    assert len(claimed) == 1
    assert await tapi.run(worker.run_once) == 0
    clock.advance(dt.timedelta(seconds=tapi.settings.outbox_lease + 1))
    other = OutboxWorker(tapi.db, tapi.settings, FakeSender())
    other.owner = "another-process"
    assert await tapi.run(other.run_once) == 1
    [row] = (await tapi.get("/api/outbox", params={"state": "sent"})).json()["items"]
    assert row["attempts"] == 2


async def test_bad_template_is_a_visible_dead_row(tapi: TimeApi) -> None:
    async def work() -> None:
        async with tapi.db.transaction():
            await service.enqueue(key="m5", channel="log", template="no-such-template",
                                  context={})

    await tapi.run(work)
    [row] = (await tapi.get("/api/outbox", params={"state": "dead"})).json()["items"]
    assert "no-such-template" in row["last_error"]


async def test_outbox_api_is_for_admins_and_checks_state(tapi: TimeApi) -> None:
    r = await tapi.get("/api/outbox", params={"state": "lost"})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "state"
    agent = await tapi.as_("agent1", "agent")
    assert (await agent.get("/api/outbox")).status_code == 403
    assert (await tapi.post("/api/outbox/999/retry")).status_code == 404


def test_backoff_grows_with_jitter_and_cap() -> None:
    s = Settings(outbox_backoff_base=5, outbox_backoff_max=60)
    rng = random.Random(1)
    for attempt, full in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (9, 60)]:
        d = backoff(attempt, s, rng=rng)
        assert full / 2 <= d <= full
    assert backoff(1, s, retry_after=300, rng=rng) == 300
