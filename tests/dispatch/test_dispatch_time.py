"""Dispatch with the time engine, through the real API and the real scheduler, with the
injectable clock moved instead of sleeping, on SQLite and PostgreSQL: claim time-outs offer
the next candidates and escalate, the first claim stops the respond clock, shift schedules
put engineers on and off shift."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from gongdan.store.tables import GdTimer
from gongdan.timers import clock
from gongdan.timers.scheduler import Scheduler
from tests.dispatch.conftest import dispatch_line, token_for
from tests.time.conftest import TimeApi

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

P0 = {"description": "注塑机停机，无法启动"}
MIN = dt.timedelta(minutes=1)


async def create(api: TimeApi, i: int = 1, **overrides: Any) -> dict:
    r = await api.post("/api/lines/dispatch/tickets", demo_ticket(i, **overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def tick(api: TimeApi) -> int:
    return int(await api.run(Scheduler(api.db, api.settings).tick))


async def timers(api: TimeApi, ticket_id: int, state: str = "pending") -> list[str]:
    async def q() -> list[str]:
        rows = await GdTimer.select(GdTimer.kind).where(
            (GdTimer.ticket_id == ticket_id) & (GdTimer.state == state)).order_by(GdTimer.due_at)
        return [r["kind"] for r in rows]

    return list(await api.run(q))


async def events(api: TimeApi, ticket_id: int, *types: str) -> list[dict]:
    tl = (await api.get(f"/api/tickets/{ticket_id}/timeline")).json()["events"]
    return [e for e in tl if not types or e["type"] in types]


async def live(api: TimeApi, ticket_id: int) -> list[str]:
    offers = (await api.get(f"/api/tickets/{ticket_id}/dispatch")).json()["offers"]
    return [o["engineer"] for o in offers if o["state"] == "live"]


async def test_claim_window_ends_next_candidates_then_escalation(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    t = await create(tapi)  # P2: offer top 1, claim within 15m, after 2 reoffers escalate
    assert await live(tapi, t["id"]) == ["xiaowang"]
    assert "claim_timeout" in await timers(tapi, t["id"])
    wang = await token_for(tapi, "xiaowang")
    clock.advance(14 * MIN)
    assert await tick(tapi) == 0  # not yet
    assert await live(tapi, t["id"]) == ["xiaowang"]
    clock.advance(2 * MIN)
    # the window is over: even before the timer fires, the offer cannot be claimed
    r = await wang.post(f"/api/tickets/{t['id']}/claim")
    assert r.status_code == 409, r.text
    assert "过期" in r.json()["message_zh"] and "expired" in r.json()["message_en"]
    assert (await wang.get("/api/engineers/xiaowang/offers")).json()["items"] == []
    assert await tick(tapi) == 1
    assert await live(tapi, t["id"]) == ["xiaoli"]
    body = (await wang.post(f"/api/tickets/{t['id']}/claim")).json()
    assert body["status"] == 409 and "no live offer" in body["message_en"]
    clock.advance(16 * MIN)
    assert await tick(tapi) == 1
    assert await live(tapi, t["id"]) == ["xiaozhao"]
    clock.advance(16 * MIN)
    assert await tick(tapi) == 1
    assert await live(tapi, t["id"]) == []
    ev = await events(tapi, t["id"], "offered", "offer_expired", "escalated")
    assert [(e["type"], e["channel"], e["actor"]) for e in ev] == [
        ("offer_expired", "timer", "timer"), ("offered", "timer", "timer"),
        ("offer_expired", "timer", "timer"), ("offered", "timer", "timer"),
        ("offer_expired", "timer", "timer"), ("escalated", "timer", "timer")]
    assert ev[-1]["after"]["person"] == "laoqian"
    assert "claim_timeout" not in await timers(tapi, t["id"])  # nothing left to time out
    clock.advance(60 * MIN)
    await tick(tapi)
    assert len(await events(tapi, t["id"], "escalated")) == 1  # once
    offers = (await tapi.get(f"/api/tickets/{t['id']}/dispatch")).json()["offers"]
    assert [o["state"] for o in offers] == ["expired"] * 3


async def test_a_claim_cancels_the_claim_timeout(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    t = await create(tapi)
    wang = await token_for(tapi, "xiaowang")
    clock.advance(10 * MIN)
    assert (await wang.post(f"/api/tickets/{t['id']}/claim")).status_code == 200
    # dispatch keeps the platform's (injectable) time: the claim is 10 minutes "later"
    (claimed,) = await events(tapi, t["id"], "claimed")
    at = dt.datetime.fromisoformat(claimed["at"])
    assert at - dt.datetime.now(dt.UTC) > 9 * MIN
    wang_row = (await tapi.get("/api/engineers/xiaowang")).json()
    assert dt.datetime.fromisoformat(wang_row["idle_since"]) - dt.datetime.now(dt.UTC) > 9 * MIN
    assert "claim_timeout" in await timers(tapi, t["id"], "cancelled")
    assert "claim_timeout" not in await timers(tapi, t["id"])
    clock.advance(30 * MIN)
    await tick(tapi)
    assert await events(tapi, t["id"], "offer_expired", "offered") == []
    assert (await tapi.get(f"/api/tickets/{t['id']}")).json()["assignee"] == "xiaowang"


async def test_declining_routes_again_with_a_fresh_claim_window(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    t = await create(tapi)
    wang = await token_for(tapi, "xiaowang")
    clock.advance(10 * MIN)
    r = await wang.post(f"/api/tickets/{t['id']}/decline")
    assert r.json()["routing"]["offered"] == ["xiaoli"]
    clock.advance(10 * MIN)  # 20 min after creation, 10 after the new offer
    assert await tick(tapi) == 0  # the first round's timer was cancelled
    assert await live(tapi, t["id"]) == ["xiaoli"]
    clock.advance(6 * MIN)
    assert await tick(tapi) == 1
    assert await live(tapi, t["id"]) == ["xiaozhao"]


async def test_the_first_claim_stops_the_respond_clock(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    t = await create(tapi, **P0)  # respond 30m
    assert t["sla"]["tier"] == "P0"
    zhao = await token_for(tapi, "xiaozhao")
    clock.advance(5 * MIN)
    assert (await zhao.post(f"/api/tickets/{t['id']}/claim")).status_code == 200
    pending = await timers(tapi, t["id"])
    assert "respond_warn" not in pending and "respond_breach" not in pending
    assert "resolve_breach" in pending
    clock.advance(40 * MIN)  # past respond-by
    await tick(tapi)
    assert await events(tapi, t["id"], "sla_warning", "sla_breached") == []
    # an unclaimed P0 does breach (the check above can fail)
    u = await create(tapi, 2, **P0)
    clock.advance(40 * MIN)
    await tick(tapi)
    assert [e["data"]["clock"] for e in await events(tapi, u["id"], "sla_breached")] == ["respond"]


def _at_local(api: TimeApi, hhmm: str, day: int = 0) -> None:
    """Move the clock so that it is `hhmm` in the server's zone (today + `day`)."""
    tz = ZoneInfo(api.settings.timezone)
    real = dt.datetime.now(dt.UTC)
    h, m = map(int, hhmm.split(":"))
    target = (real.astimezone(tz) + dt.timedelta(days=day)).replace(hour=h, minute=m, second=20)
    clock.set_offset(target - real)


async def on_shift(api: TimeApi, key: str) -> bool:
    return bool((await api.get(f"/api/engineers/{key}")).json()["on_shift"])


async def test_shift_schedules_put_engineers_on_and_off_shift(tapi: TimeApi) -> None:
    await dispatch_line(tapi, engineers=[])
    r = await tapi.post("/api/engineers", {"id": "day", "name": "白班", "skills": {"液压": 4},
                                           "shifts": [["08:00", "18:00"]], "on_shift": True})
    assert r.status_code == 201, r.text
    r = await tapi.post("/api/engineers", {"id": "night", "name": "夜班", "skills": {"液压": 4},
                                           "shifts": [["22:00", "06:00"]]})
    assert r.status_code == 201, r.text
    _at_local(tapi, "07:30", day=1)
    t = await create(tapi)
    assert await live(tapi, t["id"]) == ["day"]  # on shift by hand, until the schedule says
    await tick(tapi)
    assert not await on_shift(tapi, "day") and not await on_shift(tapi, "night")
    assert await live(tapi, t["id"]) == []  # going off shift withdrew the offer; it waits
    assert [e["data"]["why"] for e in await events(tapi, t["id"], "offer_withdrawn")] == ["off_shift"]
    _at_local(tapi, "08:05", day=1)
    await tick(tapi)
    assert await on_shift(tapi, "day") and not await on_shift(tapi, "night")
    assert await live(tapi, t["id"]) == ["day"]  # coming on shift routed the queue
    # a manual off-shift holds until the next boundary
    day = await token_for(tapi, "day")
    assert (await day.post("/api/engineers/day/off-shift")).status_code == 200
    _at_local(tapi, "09:00", day=1)
    await tick(tapi)
    assert not await on_shift(tapi, "day")
    _at_local(tapi, "22:10", day=1)
    await tick(tapi)
    assert not await on_shift(tapi, "day") and await on_shift(tapi, "night")
    _at_local(tapi, "08:01", day=2)
    await tick(tapi)
    assert await on_shift(tapi, "day") and not await on_shift(tapi, "night")


async def test_a_check_in_moves_the_assigned_engineer(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    t = await create(tapi)
    wang = await token_for(tapi, "xiaowang")
    assert (await wang.post(f"/api/tickets/{t['id']}/claim")).status_code == 200
    before = (await tapi.get("/api/engineers/xiaowang")).json()
    clock.advance(30 * MIN)
    r = await wang.post(f"/api/tickets/{t['id']}/events",
                        {"type": "scan_checkin", "channel": "qr", "location": {"lat": 31.3, "lon": 121.5}})
    assert r.status_code == 200, r.text
    after = (await tapi.get("/api/engineers/xiaowang")).json()
    assert after["location"] == {"lat": 31.3, "lon": 121.5}
    assert after["location_at"] != before["location_at"]
    # someone else's check-in, or one without a location, moves nobody
    r = await tapi.post(f"/api/tickets/{t['id']}/events", {"type": "scan_checkin", "lat": 30.0, "lon": 120.0})
    assert r.status_code == 200
    r = await wang.post(f"/api/tickets/{t['id']}/events", {"type": "scan_checkin"})
    assert r.status_code == 200
    assert (await tapi.get("/api/engineers/xiaowang")).json()["location"] == {"lat": 31.3, "lon": 121.5}
    seq = len(await events(tapi, t["id"]))
    r = await wang.post(f"/api/tickets/{t['id']}/events", {"type": "scan_checkin", "location": {"lat": 99}})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "location"
    assert len(await events(tapi, t["id"])) == seq  # nothing half-written
