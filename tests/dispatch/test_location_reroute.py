"""App location updates route the waiting queues again, throttled: only while tickets wait,
and only when the engineer moved more than GONGDAN_LOCATION_REROUTE_KM since the last such
re-route or it is older than GONGDAN_LOCATION_REROUTE_MINUTES. Through HTTP on SQLite and
PostgreSQL, with the platform's clock frozen and moved by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from gongdan.timers import clock
from tests.dispatch.conftest import dispatch_line, token_for
from tests.time.conftest import TimeApi

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

RULES = """
ruleset "位置" for line dispatch

sla P2 "一般":
    otherwise
    respond 4h
    resolve 3d

route "现场维修":
    require engineer.skills[required_skill] >= 3
    require distance <= 5km
    require engineer.on_shift
    score skill_fit
    offer top 1
"""
SITE = {"lat": 31.2304, "lon": 121.4737}  # where demo tickets are
FAR = {"lat": 31.50, "lon": 121.4737}  # ~30 km north
WANG = {"id": "xiaowang", "name": "小王", "skills": {"液压": 5}, "team": "一组", "max_load": 3,
        "on_shift": True, "location": FAR}
T0 = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


def north(km: float) -> dict[str, float]:
    return {"lat": FAR["lat"] - km / 111.2, "lon": FAR["lon"]}


async def test_location_updates_reroute_queued_tickets_throttled(tapi: TimeApi,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    now = [T0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    api = tapi
    await dispatch_line(api, RULES, [WANG])
    wang = await token_for(api, "xiaowang")

    async def ping(loc: dict[str, float]) -> dict:
        r = await wang.post("/api/engineers/xiaowang/location", loc)
        assert r.status_code == 200, r.text
        assert r.json()["location"] == loc
        return r.json()

    async def live(tid: int) -> list[str]:
        offers = (await api.get(f"/api/tickets/{tid}/dispatch")).json()["offers"]
        return [o["engineer"] for o in offers if o["state"] == "live"]

    # nothing waits: moving far never re-routes
    body = await ping(north(3))
    assert (body["rerouted"], body["offered"]) == (False, 0)

    r = await api.post("/api/lines/dispatch/tickets", demo_ticket(1))
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert await live(tid) == []  # 27 km away: queued

    # a ticket waits: the first update re-routes (still too far: nothing offered)
    now[0] = T0 + MIN
    assert (await ping(north(3.5)))["rerouted"] is True
    # 0.6 km further, 2 minutes later: throttled
    now[0] = T0 + 3 * MIN
    body = await ping(north(4.1))
    assert (body["rerouted"], body["offered"]) == (False, 0)
    assert await live(tid) == []
    # 11 minutes after the last re-route: re-routes even without moving (still too far)
    now[0] = T0 + 12 * MIN
    assert (await ping(north(4.1)))["rerouted"] is True
    # within 10 minutes but 1.5 km on: re-routes
    now[0] = T0 + 13 * MIN
    assert (await ping(north(5.6)))["rerouted"] is True and await live(tid) == []
    # drives to the site (more than 1 km): re-routed at once, and now within 5 km: offered
    now[0] = T0 + 14 * MIN
    body = await ping({"lat": SITE["lat"] + 0.01, "lon": SITE["lon"]})
    assert (body["rerouted"], body["offered"]) == (True, 1)
    assert await live(tid) == ["xiaowang"]
    tl = (await api.get(f"/api/tickets/{tid}/timeline")).json()["events"]
    assert [e["type"] for e in tl][-1] == "offered"
    # the queue is empty again: moving on re-routes nothing
    now[0] = T0 + 40 * MIN
    assert (await ping(SITE))["rerouted"] is False

    # an engineer who cannot be routed to (inactive, or left) never re-routes the queues
    r = await api.post("/api/lines/dispatch/tickets", demo_ticket(2))
    assert r.status_code == 201, r.text
    assert await live(r.json()["id"]) == ["xiaowang"]
    assert (await wang.post(f"/api/tickets/{tid}/decline")).status_code == 200  # back in the queue
    assert await live(tid) == []
    now[0] = T0 + 60 * MIN
    assert (await api.patch("/api/engineers/xiaowang", {"active": False})).status_code == 200
    assert (await api.post("/api/engineers/xiaowang/location", FAR)).json()["rerouted"] is False
