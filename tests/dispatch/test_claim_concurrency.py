"""Against a REAL server process (`gongdan serve`, two workers), on SQLite and PostgreSQL:
ten engineers claim one ticket at the same moment -> exactly one owner, nine 409s, the
load counted once, one `claimed` event."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from tests.platform.conftest import db_url, live_server  # noqa: F401 - the db_url fixture

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

EVERYONE = """
ruleset "抢单" for line repair

sla P0 "停机类":
    when description has any ["停机"]
    respond 30m
    resolve 4h
    bypass queue

sla P2 "一般":
    otherwise
    respond 4h
    resolve 3d

route "全员":
    require engineer.skills[required_skill] >= 5
    require engineer.load < engineer.max_load
    require engineer.on_shift
    score skill_fit
    offer top 10
"""


@pytest.fixture
def server(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    with live_server(db_url, workers=2, log=tmp_path / "server.log") as srv:
        yield srv


async def test_ten_engineers_claim_at_once_exactly_one_wins(server) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as admin:
        r = await admin.put("/api/lines/repair/rules", json={"source": EVERYONE})
        assert r.status_code == 201, r.text
        r = await admin.post(f"/api/lines/repair/rules/{r.json()['version']}/activate")
        assert r.status_code == 200, r.text
        names = [f"grab{i:02d}" for i in range(10)]
        tokens = {}
        for name in names:
            r = await admin.post("/api/engineers", json={"id": name, "name": f"抢单{name[-2:]}",
                                                         "skills": {"液压": 5}, "max_load": 5,
                                                         "on_shift": True, "team": "抢单组"})
            assert r.status_code == 201, r.text
            r = await admin.post(f"/api/users/{name}/tokens")
            tokens[name] = r.json()["token"]
        r = await admin.post("/api/lines/repair/tickets", json=demo_ticket(1))
        assert r.status_code == 201, r.text
        ticket = r.json()
        view = (await admin.get(f"/api/tickets/{ticket['id']}/dispatch")).json()
        assert sorted(view["decisions"][0]["offered"]) == names

        clients = [httpx.AsyncClient(base_url=server.url, timeout=60,
                                     headers={"Authorization": f"Bearer {tokens[n]}"}) for n in names]
        try:
            responses = await asyncio.gather(*(c.post(f"/api/tickets/{ticket['id']}/claim") for c in clients))
        finally:
            for c in clients:
                await c.aclose()
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] + [409] * 9, [r.text for r in responses]
        winner = names[[r.status_code for r in responses].index(200)]
        for r in responses:
            if r.status_code == 409:
                body = r.json()
                assert body["status"] == 409 and body["message_zh"] and body["message_en"]
                assert body["data"]["assignee"] == winner
        assert (await admin.get(f"/api/tickets/{ticket['id']}")).json()["assignee"] == winner
        people = {e["id"]: e["load"] for e in (await admin.get("/api/engineers?team=抢单组")).json()["items"]}
        assert people == {n: (1 if n == winner else 0) for n in names}
        events = (await admin.get(f"/api/tickets/{ticket['id']}/timeline")).json()["events"]
        assert [e["type"] for e in events] == ["created", "claimed"]
        offers = (await admin.get(f"/api/tickets/{ticket['id']}/dispatch")).json()["offers"]
        assert sorted(o["state"] for o in offers) == ["claimed"] + ["withdrawn"] * 9


async def test_every_worker_sees_roster_changes(server) -> None:  # type: ignore[no-untyped-def]
    """Each worker keeps its own EngineerIndex; a change made through one is seen by both."""
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as admin:
        r = await admin.put("/api/lines/repair/rules", json={"source": EVERYONE.replace("offer top 10", "offer top 1")})
        assert r.status_code == 201, r.text
        assert (await admin.post(f"/api/lines/repair/rules/{r.json()['version']}/activate")).status_code == 200
        for name, level in (("best", 5), ("next", 5)):
            r = await admin.post("/api/engineers", json={"id": name, "name": name, "skills": {"液压": level},
                                                         "max_load": 50, "on_shift": True})
            assert r.status_code == 201, r.text

        async def first_offer(i: int) -> str:
            # a new connection each time, so the creates spread over both workers
            async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as fresh:
                r = await fresh.post("/api/lines/repair/tickets", json=demo_ticket(i))
            assert r.status_code == 201, r.text
            view = (await admin.get(f"/api/tickets/{r.json()['id']}/dispatch")).json()
            return str(view["decisions"][0]["offered"][0])

        assert {await first_offer(i) for i in range(8)} == {"best"}  # equal scores: idle longer
        assert (await admin.post("/api/engineers/best/off-shift")).status_code == 200
        assert {await first_offer(100 + i) for i in range(8)} == {"next"}
        assert (await admin.patch("/api/engineers/best", json={"on_shift": True, "skills": {"液压": 2}})).status_code == 200
        assert {await first_offer(200 + i) for i in range(8)} == {"next"}


async def test_one_engineer_claiming_many_at_once_stops_at_max_load(server) -> None:  # type: ignore[no-untyped-def]
    """One engineer with max_load 2 holds live offers for six tickets and claims them all at
    once, through both workers: exactly two succeed, the others are 409 naming the load."""
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as admin:
        r = await admin.put("/api/lines/repair/rules", json={"source": EVERYONE})
        assert r.status_code == 201, r.text
        assert (await admin.post(f"/api/lines/repair/rules/{r.json()['version']}/activate")).status_code == 200
        r = await admin.post("/api/engineers", json={"id": "solo", "name": "独行", "skills": {"液压": 5},
                                                     "max_load": 2, "on_shift": True})
        assert r.status_code == 201, r.text
        token = (await admin.post("/api/users/solo/tokens")).json()["token"]
        ids = []
        for i in range(6):
            r = await admin.post("/api/lines/repair/tickets", json=demo_ticket(i))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        clients = [httpx.AsyncClient(base_url=server.url, timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) for _ in ids]
        try:
            responses = await asyncio.gather(*(c.post(f"/api/tickets/{t}/claim") for c, t in zip(clients, ids,
                                                                                                 strict=True)))
        finally:
            for c in clients:
                await c.aclose()
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 2 + [409] * 4, [r.text for r in responses]
        for r in responses:
            if r.status_code == 409:
                assert r.json()["data"] == {"load": 2, "max_load": 2}, r.text
        assert (await admin.get("/api/engineers/solo")).json()["load"] == 2
        owners = [(await admin.get(f"/api/tickets/{t}")).json()["assignee"] for t in ids]
        assert owners.count("solo") == 2 and owners.count(None) == 4
