"""GET /api/tickets pages through more than one page (limit/offset, `more`, `total`) and
filters overdue tickets on the server; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from gongdan.demo import demo_ticket
from gongdan.timers import clock
from tests.platform.conftest import Api, make_repair_line

RULES = """ruleset "paging" for line repair

sla P0 "停机类":
    when description has any ["停机"]
    respond 30m
    resolve 4h

sla P2 "一般":
    otherwise
    respond 4h
    resolve 3d
"""

CLOSE_PATH = ["已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案"]


async def _create(api: Api, i: int, description: str) -> dict:
    r = await api.post("/api/lines/repair/tickets", demo_ticket(i, description=description))
    assert r.status_code == 201, r.text
    return r.json()


async def test_paging_counts_and_overdue(api: Api) -> None:
    await make_repair_line(api)
    r = await api.put("/api/lines/repair/rules", {"source": RULES})
    assert r.status_code == 201, r.text
    r = await api.post(f"/api/lines/repair/rules/{r.json()['version']}/activate")
    assert r.status_code in (200, 201), r.text

    # 5 停机 tickets made "an hour ago" (their 30 min respond-by is past), then 56 others
    clock.set_offset(-dt.timedelta(hours=1))
    try:
        late = [await _create(api, i, "设备停机") for i in range(5)]
    finally:
        clock.set_offset(dt.timedelta(0))
    for i in range(5, 61):
        await _create(api, i, "一般问题")
    assert all(t["sla"]["tier"] == "P0" for t in late)

    # pages of 25: every ticket once, newest first, `more` until the last page
    seen: list[int] = []
    offset = 0
    while True:
        r = await api.get("/api/tickets", params={"line": "repair", "limit": 25,
                                                  "offset": offset, "count": "true"})
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == 61 and page["limit"] == 25 and page["offset"] == offset
        seen += [t["id"] for t in page["items"]]
        if not page["more"]:
            break
        offset += 25
    assert len(seen) == len(set(seen)) == 61 and seen == sorted(seen, reverse=True)
    assert len(page["items"]) == 11
    default = (await api.get("/api/tickets")).json()
    assert len(default["items"]) == 50 and default["more"] and "total" not in default
    r = await api.get("/api/tickets", params={"tier": "P0", "count": "true"})
    assert r.json()["total"] == 5

    # overdue: unassigned past respond-by; assigned (resolve-by still ahead) and closed are not
    r = await api.patch(f"/api/tickets/{late[0]['id']}", {"version": late[0]["version"],
                                                          "assignee": "wang"})
    assert r.status_code == 200, r.text
    ticket = late[1]
    for to in CLOSE_PATH:
        r = await api.post(f"/api/tickets/{ticket['id']}/move",
                           {"to": to, "version": ticket["version"]})
        assert r.status_code == 200, r.text
        ticket = r.json()
    r = await api.get("/api/tickets", params={"overdue": "true", "count": "true", "limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = sorted((t["id"] for t in late[2:]), reverse=True)
    assert body["total"] == 3 and body["more"] is True
    assert [t["id"] for t in body["items"]] == expected[:2]
    r = await api.get("/api/tickets", params={"overdue": "true", "line": "repair",
                                              "offset": 2})
    assert [t["id"] for t in r.json()["items"]] == expected[2:]
    r = await api.get("/api/tickets", params={"overdue": "true", "line": "nope",
                                              "count": "true"})
    assert r.json()["items"] == [] and r.json()["total"] == 0
    r = await api.get("/api/tickets", params={"overdue": "true", "assignee": "wang"})
    assert r.json()["items"] == []

    r = await api.get("/api/tickets", params={"offset": -1})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "offset"
