"""Tickets through HTTP on SQLite and PostgreSQL: create, validate, number, change, move,
events, timeline, look-up, visibility."""

from __future__ import annotations

import datetime as dt
import re

from gongdan.demo import demo_ticket
from tests.platform.conftest import Api, make_repair_line
from tests.platform.test_lines_api import assert_error_shape

NUMBER = re.compile(r"^WX-\d{8}-\d{4}$")


async def create(api: Api, i: int = 1, **overrides: object) -> dict:
    r = await api.post("/api/lines/repair/tickets", demo_ticket(i, **overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_and_get(api: Api) -> None:
    await make_repair_line(api)
    t = await create(api)
    assert NUMBER.match(t["number"]), t["number"]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m%d")
    assert t["number"] == f"WX-{today}-0001"
    assert t["state"] == "新建" and t["state_category"] == "open" and t["version"] == 1
    assert t["sla"] is None  # no active ruleset yet
    assert t["created_at"].endswith("+08:00") and "." not in t["created_at"]
    got = (await api.get(f"/api/tickets/{t['id']}")).json()
    assert got == t
    t2 = await create(api, 2)
    assert t2["number"] == f"WX-{today}-0002"


async def test_synonyms_map_to_canonical_keys(api: Api) -> None:
    await make_repair_line(api)
    body = demo_ticket(1)
    body["联系电话"] = body.pop("customer_phone")
    r = await api.post("/api/lines/repair/tickets", body)
    assert r.status_code == 201, r.text
    assert r.json()["fields"]["customer_phone"] == body["联系电话"]


async def test_bad_ticket_names_every_field_and_stores_nothing(api: Api) -> None:
    await make_repair_line(api)
    body = demo_ticket(1, customer_phone="12345", region="999999", location={"lat": 95},
                       reported_at="2026-11-25 09:30", fault_type="电机异响", onsite=True,
                       device_category="拖拉机", unknown_field=1)
    del body["title"], body["address"]
    r = await api.post("/api/lines/repair/tickets", body)
    assert r.status_code == 422
    err = r.json()
    assert_error_shape(err, 422)
    keys = {e["key"] for e in err["extra"]}
    assert keys == {"customer_phone", "region", "location.lat", "location.lon", "reported_at",
                    "device_category", "unknown_field", "title", "address", "vibration_mm_s",
                    "vibration_freq_hz"}
    region = next(e for e in err["extra"] if e["key"] == "region")
    assert "行政区划" in region["message_zh"] and "division" in region["message_en"]
    listing = (await api.get("/api/tickets")).json()
    assert listing["items"] == []
    # a failed create used no number
    t = await create(api)
    assert t["number"].endswith("-0001")


async def test_real_region_codes(api: Api) -> None:
    await make_repair_line(api)
    for code in ("110101", "440305", "650102"):
        await create(api, 1, region=code)
    r = await api.post("/api/lines/repair/tickets", demo_ticket(1, region="110199"))
    assert r.status_code == 422
    # divisions made after 2018 are accepted; a retired one is not
    for code in ("330383", "659010", "371503"):  # 龙港市 (2019), 胡杨河市 (2019), 茌平区 (2019)
        await create(api, 1, region=code)
    r = await api.post("/api/lines/repair/tickets", demo_ticket(1, region="371523"))  # 茌平县
    assert r.status_code == 422
    assert [e["key"] for e in r.json()["extra"]] == ["region"]


def test_region_list_is_current_and_generated() -> None:
    from gongdan.regions import is_region_code, region_codes, region_name

    assert region_name("330383") == "龙港市" and region_name("659010") == "胡杨河市"
    assert region_name("371503") == "茌平区" and not is_region_code("371523")
    assert region_name("130682") == "定州市"  # was 139001 under 省直辖县级行政区划
    assert len(region_codes()) > 3000
    from importlib import resources

    text = resources.files("gongdan").joinpath("data/regions.tsv").read_text("utf-8")
    assert "make_regions.py" in text.splitlines()[1] and "2025-12-31" in text.splitlines()[2]
    rows = [line.split("\t")[0] for line in text.splitlines() if not line.startswith("#")]
    assert rows == sorted(set(rows))


async def test_idempotency_key(api: Api) -> None:
    await make_repair_line(api)
    h = {"Idempotency-Key": "abc-123"}
    r1 = await api.post("/api/lines/repair/tickets", demo_ticket(1), headers=h)
    r2 = await api.post("/api/lines/repair/tickets", demo_ticket(1), headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] == r2.json()["id"]
    assert r2.headers.get("Idempotent-Replayed") == "true"
    r3 = await api.post("/api/lines/repair/tickets", demo_ticket(1),
                        headers={"Idempotency-Key": "other"})
    assert r3.json()["id"] != r1.json()["id"]
    assert len((await api.get("/api/tickets")).json()["items"]) == 2
    # the same body with its keys in another order is the same request
    reordered = dict(reversed(list(demo_ticket(1).items())))
    r4 = await api.post("/api/lines/repair/tickets", reordered, headers=h)
    assert r4.status_code == 201 and r4.json()["id"] == r1.json()["id"]


async def test_idempotency_key_is_tied_to_its_request(api: Api) -> None:
    await make_repair_line(api)
    await make_repair_line(api, key="install", prefix="AZ")
    h = {"Idempotency-Key": "k-1"}
    first = await api.post("/api/lines/repair/tickets", demo_ticket(1), headers=h)
    assert first.status_code == 201
    # another body with the same key: refused, in the one error shape, nothing stored
    other = await api.post("/api/lines/repair/tickets", demo_ticket(2), headers=h)
    assert other.status_code == 422
    body = other.json()
    assert_error_shape(body, 422)
    assert "幂等键" in body["message_zh"] and "Idempotency-Key" in body["message_en"]
    assert body["extra"][0]["key"] == "Idempotency-Key"
    assert body["data"]["ticket"] == first.json()["id"]
    # the same body on another line, or through another channel: another request too
    r = await api.post("/api/lines/install/tickets", demo_ticket(1), headers=h)
    assert r.status_code == 422
    r = await api.post("/api/lines/repair/tickets?channel=voice", demo_ticket(1), headers=h)
    assert r.status_code == 422
    assert len((await api.get("/api/tickets")).json()["items"]) == 1
    # another caller's key of the same name is theirs
    agent = await api.as_("li-agent", "agent")
    r = await agent.post("/api/lines/repair/tickets", demo_ticket(2), headers=h)
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]


async def test_idempotency_keys_expire(api: Api) -> None:
    from gongdan.timers import clock

    await make_repair_line(api)
    h = {"Idempotency-Key": "k-exp"}
    first = (await api.post("/api/lines/repair/tickets", demo_ticket(1), headers=h)).json()
    try:
        clock.advance(dt.timedelta(hours=23))  # GONGDAN_IDEMPOTENCY_TTL_HOURS: 24
        again = await api.post("/api/lines/repair/tickets", demo_ticket(1), headers=h)
        assert again.json()["id"] == first["id"]
        clock.advance(dt.timedelta(hours=2))
        fresh = await api.post("/api/lines/repair/tickets", demo_ticket(2), headers=h)
        assert fresh.status_code == 201, fresh.text
        assert fresh.json()["id"] != first["id"]
        # the key now names the new ticket
        again = await api.post("/api/lines/repair/tickets", demo_ticket(2), headers=h)
        assert again.json()["id"] == fresh.json()["id"]
    finally:
        clock.set_offset(dt.timedelta(0))


async def test_patch_versions_and_timeline(api: Api) -> None:
    await make_repair_line(api)
    t = await create(api)
    url = f"/api/tickets/{t['id']}"
    r = await api.patch(url, {"version": 1, "fields": {"title": "新标题", "故障代码": "E-300"}})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["fields"]["fault_code"] == "E-300"
    stale = await api.patch(url, {"version": 1, "fields": {"title": "again"}})
    assert stale.status_code == 409
    assert_error_shape(stale.json(), 409)
    assert stale.json()["data"]["current_version"] == 2
    bad = await api.patch(url, {"version": 2, "fields": {"region": "000000"}})
    assert bad.status_code == 422 and bad.json()["extra"][0]["key"] == "region"
    events = (await api.get(url + "/timeline")).json()["events"]
    assert [e["seq"] for e in events] == [1, 2]
    assert [e["type"] for e in events] == ["created", "fields_changed"]
    change = events[1]
    assert change["before"] == {"title": t["fields"]["title"], "fault_code": "E-205"}
    assert change["after"] == {"title": "新标题", "fault_code": "E-300"}
    assert change["actor"] == "admin" and change["channel"] == "api"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$", change["at"])


async def test_moves_follow_the_state_machine(api: Api) -> None:
    await make_repair_line(api)
    t = await create(api)
    url = f"/api/tickets/{t['id']}"
    r = await api.post(url + "/move", {"to": "维修中", "version": 1})
    assert r.status_code == 409
    assert r.json()["data"]["allowed"] == ["已派单"]
    r = await api.post(url + "/move", {"to": "没有", "version": 1})
    assert r.status_code == 422
    r = await api.post(url + "/move", {"to": "已派单", "version": 1, "channel": "voice"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "已派单" and r.json()["version"] == 2
    r = await api.post(url + "/move", {"to": "已到达", "version": 1})
    assert r.status_code == 409  # stale
    ev = (await api.get(url + "/timeline")).json()["events"][-1]
    assert ev["type"] == "state_changed" and ev["channel"] == "voice"
    assert ev["before"] == {"state": "新建"} and ev["after"] == {"state": "已派单"}
    r = await api.post(url + "/move", {"to": "已到达", "version": 2, "channel": "timer"})
    assert r.status_code == 422  # the platform's own channels are not for clients


async def test_events_are_recorded_without_rules(api: Api) -> None:
    await make_repair_line(api)
    t = await create(api)
    url = f"/api/tickets/{t['id']}"
    r = await api.post(url + "/events", {"type": "photo", "kind": "铭牌", "url": "x.jpg",
                                         "channel": "app"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transition"] is None and body["event_seq"] == 2
    assert body["ticket"]["attachments"] == [{"kind": "铭牌", "url": "x.jpg"}]
    r = await api.post(url + "/events", {"type": "scan_checkin", "channel": "qr"})
    assert r.json()["ticket"]["version"] == 2  # nothing changed, still recorded
    events = (await api.get(url + "/timeline")).json()["events"]
    assert [(e["type"], e["channel"]) for e in events] == [
        ("created", "api"), ("photo", "app"), ("scan_checkin", "qr")]
    r = await api.post(url + "/events", {"channel": "app"})
    assert r.status_code == 422
    r = await api.post(url + "/events", {"type": "state_changed", "to": "已结案"})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "type"


async def test_look_up_filters_and_customer_history(api: Api) -> None:
    await make_repair_line(api)
    a = await create(api, 1, description="液压站漏油")
    b = await create(api, 2, description="主轴异响", fault_type="其他")
    c = await create(api, 1, description="再次漏油")  # same customer phone as a
    await api.post(f"/api/tickets/{b['id']}/move", {"to": "已派单", "version": 1})
    await api.patch(f"/api/tickets/{c['id']}", {"version": 1, "assignee": "wang"})

    async def ids(**params: str) -> list[int]:
        r = await api.get("/api/tickets", params=params)
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]
    assert await ids(state="已派单") == [b["id"]]
    assert await ids(q="漏油") == [c["id"], a["id"]]
    assert await ids(q=b["number"]) == [b["id"]]
    assert await ids(assignee="wang") == [c["id"]]
    assert await ids(line="repair", tier="P0") == []
    assert await ids(created_from="2000-01-01T00:00:00+08:00") == [c["id"], b["id"], a["id"]]
    assert await ids(created_to="2000-01-01T00:00:00+08:00") == []
    r = await api.get("/api/tickets", params={"created_to": "yesterday"})
    assert r.status_code == 422
    phone = a["fields"]["customer_phone"]
    hist = (await api.get(f"/api/customers/+86{phone}/tickets")).json()["items"]
    assert [t["id"] for t in hist] == [c["id"], a["id"]]


async def test_engineers_see_only_their_own(api: Api) -> None:
    await make_repair_line(api)
    mine = await create(api, 1)
    other = await create(api, 2)
    r = await api.patch(f"/api/tickets/{mine['id']}", {"version": 1, "assignee": "wang"})
    assert r.status_code == 200, r.text
    wang = await api.as_("wang", "engineer", {"skills": {"液压": 4}})
    listing = (await wang.get("/api/tickets")).json()["items"]
    assert [t["id"] for t in listing] == [mine["id"]]
    assert (await wang.get(f"/api/tickets/{other['id']}")).status_code == 404
    assert (await wang.get(f"/api/tickets/{other['id']}/timeline")).status_code == 404
    r = await wang.patch(f"/api/tickets/{other['id']}", {"version": 1, "fields": {}})
    assert r.status_code == 404
    r = await wang.post(f"/api/tickets/{mine['id']}/move", {"to": "已派单", "version": 2})
    assert r.status_code == 200
    # engineers may not assign, nor create tickets
    r = await wang.patch(f"/api/tickets/{mine['id']}", {"version": 3, "assignee": "li"})
    assert r.status_code == 403
    r = await wang.post("/api/lines/repair/tickets", demo_ticket(3))
    assert r.status_code == 403
    assert (await wang.get(f"/api/customers/{mine['fields']['customer_phone']}/tickets")
            ).status_code == 403
    agent = await api.as_("amy", "agent")
    assert (await agent.post("/api/lines/repair/tickets", demo_ticket(3))).status_code == 201


async def test_line_without_form_or_states(api: Api) -> None:
    await api.post("/api/lines", {"key": "empty", "name": "E"})
    r = await api.post("/api/lines/empty/tickets", demo_ticket(1))
    assert r.status_code == 409
    assert_error_shape(r.json(), 409)


async def test_free_text_matches_like_wildcards_literally(api: Api) -> None:
    """`_`, `%` and `\\` in `q` are plain characters on both engines (LIKE ... ESCAPE)."""
    await make_repair_line(api)
    a = await create(api, 1, description="PCB_A7 焊点虚焊")
    b = await create(api, 2, description="良率100%下降")
    c = await create(api, 3, description="日志在 C:\\temp\\gd 目录")
    d = await create(api, 4, description="PCBXA7 主轴异响 1000 下降")

    async def ids(q: str) -> list[int]:
        r = await api.get("/api/tickets", params={"q": q})
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["items"]]

    assert await ids("PCB_A7") == [a["id"]]
    assert await ids("pcb_a7") == [a["id"]]
    assert await ids("100%") == [b["id"]]
    assert await ids("100%下降") == [b["id"]]
    assert await ids("C:\\temp\\gd") == [c["id"]]
    assert await ids("\\") == [c["id"]]
    assert await ids("_") == [a["id"]]
    assert await ids("%") == [b["id"]]
    assert await ids("PCB%A7") == []  # not a wildcard
    assert await ids("PCBXA7") == [d["id"]]
