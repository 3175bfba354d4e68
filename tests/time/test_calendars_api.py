"""Calendars by name: the API, the CLI, and `on calendar "工作日"` resolving through them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from gongdan.calendars import Calendar
from gongdan.cli import main
from gongdan.demo import demo_ticket
from tests.time.conftest import TimeApi, repair_line_with_rules

WORKDAY = {
    "timezone": "Asia/Shanghai",
    "windows": {d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu",
                                                                       "fri")},
}


async def test_calendar_crud_and_errors(tapi: TimeApi) -> None:
    r = await tapi.put("/api/calendars/工作日", WORKDAY)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "工作日" and r.json()["calendar"]["timezone"] == "Asia/Shanghai"
    assert (await tapi.put("/api/calendars/工作日", WORKDAY)).status_code == 200
    assert [c["name"] for c in (await tapi.get("/api/calendars")).json()] == ["工作日"]
    got = (await tapi.get("/api/calendars/工作日")).json()
    assert Calendar.from_dict({k: v for k, v in got["calendar"].items() if k != "name"}) == \
        Calendar.from_dict(WORKDAY)
    bad = {**WORKDAY, "windows": {"mon": [["18:00", "09:00"]]}}
    r = await tapi.put("/api/calendars/坏", bad)
    assert r.status_code == 422
    assert r.json()["extra"][0]["key"] == "windows.mon[0]" and r.json()["message_zh"]
    agent = await tapi.as_("agent1", "agent")
    assert (await agent.get("/api/calendars/工作日")).status_code == 200
    assert (await agent.put("/api/calendars/工作日", WORKDAY)).status_code == 403
    assert (await tapi.client.delete("/api/calendars/工作日",
                                     headers={"Authorization": f"Bearer {tapi.token}"})
            ).status_code == 204
    assert (await tapi.get("/api/calendars/工作日")).status_code == 404


async def test_rules_calendar_resolves_by_name(tapi: TimeApi) -> None:
    assert (await tapi.put("/api/calendars/工作日", WORKDAY)).status_code == 201
    await repair_line_with_rules(tapi)
    r = await tapi.post("/api/lines/repair/tickets", demo_ticket(1, description="PLC 报警"))
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["sla"]["tier"] == "P1" and t["sla"]["calendar"] == "工作日"
    created = dt.datetime.fromisoformat(t["created_at"])
    resolve_by = dt.datetime.fromisoformat(t["sla"]["resolve_by"])
    expected = Calendar.from_dict(WORKDAY).add_business_time(created, dt.timedelta(days=1))
    # created_at is shown to the second; the deadline keeps the exact instant
    assert abs(resolve_by - expected) < dt.timedelta(seconds=1)
    assert resolve_by - created > dt.timedelta(days=2)  # 24 working hours = three 8h days


def test_cli_calendars(tmp_path: Path) -> None:
    env = {"GONGDAN_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    runner = CliRunner()
    f = tmp_path / "workday.json"
    f.write_text(json.dumps(WORKDAY, ensure_ascii=False), encoding="utf-8")
    r = runner.invoke(main, ["calendars", "set", "工作日", str(f)], env=env)
    assert r.exit_code == 0, r.output
    assert "created" in r.output and "re-armed 0 open ticket(s)" in r.output
    r = runner.invoke(main, ["calendars", "list"], env=env)
    assert r.exit_code == 0 and "工作日\tAsia/Shanghai" in r.output
    r = runner.invoke(main, ["calendars", "show", "工作日"], env=env)
    assert r.exit_code == 0 and json.loads(r.output)["windows"]["mon"][0] == ["09:00", "12:00"]
    f.write_text(json.dumps({"timezone": "Mars/Base"}), encoding="utf-8")
    r = runner.invoke(main, ["calendars", "set", "坏", str(f)], env=env)
    assert r.exit_code == 1 and "timezone" in r.output
    r = runner.invoke(main, ["calendars", "delete", "工作日"], env=env)
    assert r.exit_code == 0 and "re-armed 0" in r.output
    r = runner.invoke(main, ["calendars", "show", "工作日"], env=env)
    assert r.exit_code == 1
