"""Against a REAL server process (`gongdan serve`, two workers), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from gongdan.demo import demo_ticket
from tests.platform.conftest import live_server


@pytest.fixture
def server(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with live_server(db_url, workers=2, log=tmp_path / "server.log") as srv:
        yield srv


async def test_concurrent_patches_one_wins(server) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers,
                                 timeout=60) as client:
        r = await client.post("/api/lines/repair/tickets", json=demo_ticket(1))
        assert r.status_code == 201, r.text
        ticket = r.json()

        async def patch(i: int) -> httpx.Response:
            return await client.patch(f"/api/tickets/{ticket['id']}",
                                      json={"version": 1, "fields": {"title": f"改动 {i}"}})

        responses = await asyncio.gather(*(patch(i) for i in range(20)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] + [409] * 19, codes
        for r in responses:
            if r.status_code == 409:
                assert r.json()["data"]["current_version"] == 2
        winner = next(r for r in responses if r.status_code == 200).json()
        timeline = (await client.get(f"/api/tickets/{ticket['id']}/timeline")).json()["events"]
        changes = [e for e in timeline if e["type"] == "fields_changed"]
        assert len(changes) == 1
        assert changes[0]["after"]["title"] == winner["fields"]["title"]
        assert [e["seq"] for e in timeline] == [1, 2]


async def test_concurrent_creates_get_distinct_numbers(server) -> None:  # type: ignore[no-untyped-def]
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=120,
                                 limits=limits) as client:

        async def create(i: int) -> httpx.Response:
            return await client.post("/api/lines/repair/tickets", json=demo_ticket(i))

        responses = await asyncio.gather(*(create(i) for i in range(200)))
        assert [r.status_code for r in responses] == [201] * 200, {
            r.status_code: r.text for r in responses if r.status_code != 201}
        numbers = sorted(r.json()["number"] for r in responses)
        assert len(set(numbers)) == 200
        # no gaps: 0001 .. 0200
        assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 201))


async def test_concurrent_retries_with_one_idempotency_key(server) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers,
                                 timeout=60) as client:
        responses = await asyncio.gather(*(
            client.post("/api/lines/repair/tickets", json=demo_ticket(7),
                        headers={"Idempotency-Key": "retry-7"})
            for _ in range(10)))
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        listing = (await client.get("/api/tickets")).json()["items"]
        assert len(listing) == 1
        # racing retries of one key with different bodies: one ticket, the rest refused
        responses = await asyncio.gather(*(
            client.post("/api/lines/repair/tickets", json=demo_ticket(100 + i),
                        headers={"Idempotency-Key": "race-8"})
            for i in range(10)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [422] * 9, [r.text for r in responses]
        listing = (await client.get("/api/tickets")).json()["items"]
        assert len(listing) == 2
