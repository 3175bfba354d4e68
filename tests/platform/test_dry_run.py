"""`POST .../rules/check` and `POST .../dry-run`: what the rules editor and the dry-run page
call. Nothing is stored by either. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from gongdan.demo import repair_rules_source
from tests.platform.conftest import Api, make_repair_line
from tests.platform.test_lines_api import assert_error_shape
from tests.platform.test_rules_api import active_repair_line


async def test_check_reports_every_diagnostic_against_form_and_states(api: Api) -> None:
    await make_repair_line(api)
    source = repair_rules_source().replace("on scan_checkin: 已派单 -> 已到达", "on scan_checkin: 已派单 -> 已到")
    source = source.replace("when onsite", "when on_site")
    r = await api.post("/api/lines/repair/rules/check", {"source": source})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False
    codes = {d["code"] for d in body["diagnostics"] if d["severity"] == "error"}
    assert {"E200", "E132"} <= codes  # unknown field and unknown state
    assert (await api.get("/api/lines/repair/rules")).json() == []  # nothing stored
    ok = await api.post("/api/lines/repair/rules/check", {"source": repair_rules_source()})
    assert ok.json()["ok"] is True
    viewer = await api.as_("vic", "viewer")
    assert (await viewer.post("/api/lines/repair/rules/check", {"source": "x"})).status_code == 403


async def test_dry_run_gives_tier_deadlines_and_the_ranked_engineers(api: Api) -> None:
    await active_repair_line(api)
    here = {"lat": 31.2304, "lon": 121.4737}
    await api.as_("wang", "engineer", {"skills": {"PLC调试": 5}, "load": 0, "max_load": 5, "on_shift": True,
                                        "location": {"lat": 31.2310, "lon": 121.4740}})
    await api.as_("li", "engineer", {"skills": {"PLC调试": 2}, "load": 0, "max_load": 5, "on_shift": True,
                                      "location": here})
    ticket = {"description": "3号线注塑机停机", "onsite": True, "required_skill": "PLC调试", "location": here}
    r = await api.post("/api/lines/repair/dry-run", {"ticket": ticket})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sla"]["tier"] == "P0" and body["sla"]["bypass_queue"] is True
    assert body["sla"]["respond_by"] and body["sla"]["resolve_by"]
    route = body["route"]
    assert route["pool"] == "现场维修" and route["offered"] == ["wang"]
    by_id = {c["engineer_id"]: c for c in route["candidates"]}
    assert by_id["li"]["rejected_by"] == "engineer.skills[required_skill] >= 3"
    assert by_id["wang"]["rank"] == 1 and by_id["wang"]["factors"]["skill_fit"] == 1.0
    assert "派给" in route["summary_zh"] and "offered to" in route["summary_en"]
    tickets = (await api.get("/api/tickets?line=repair")).json()
    assert (tickets["items"] if isinstance(tickets, dict) else tickets) == []  # nothing stored


async def test_dry_run_without_active_rules_is_a_clear_409(api: Api) -> None:
    await make_repair_line(api)
    r = await api.post("/api/lines/repair/dry-run", {"ticket": {}})
    assert r.status_code == 409
    assert_error_shape(r.json(), 409)
    assert "没有启用的规则" in r.json()["message_zh"]
