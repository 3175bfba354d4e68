"""The daily dispatch report over a scripted day, through the real API, the real scheduler
and the CLI, on SQLite and PostgreSQL. The platform's clock is frozen and moved by hand, so
every figure (times to claim included) is checked exactly."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from openpyxl import load_workbook

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from gongdan.timers import clock
from gongdan.timers.scheduler import Scheduler
from tests.dispatch.conftest import DISPATCH_RULES, dispatch_line, token_for
from tests.time.conftest import TimeApi

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

# on-site tickets go to the best-skilled; remote ones (a pool that prefers the least skilled,
# to script a claim without the skill at level 3) to anyone with the skill
RULES = DISPATCH_RULES.replace('route "现场维修":\n', 'route "现场维修":\n    when onsite\n') + """
route "远程支持":
    require engineer.skills[required_skill] >= 1
    require engineer.on_shift
    score 1 - skill_fit
    offer top 1
"""
T0 = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
MIN = dt.timedelta(minutes=1)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    now = [T0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


async def live(api: TimeApi, tid: int) -> list[str]:
    offers = (await api.get(f"/api/tickets/{tid}/dispatch")).json()["offers"]
    return [o["engineer"] for o in offers if o["state"] == "live"]


async def create(api: TimeApi, i: int, **overrides: Any) -> int:
    r = await api.post("/api/lines/dispatch/tickets", demo_ticket(i, **overrides))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def tick_all(api: TimeApi) -> None:
    while await api.run(Scheduler(api.db, api.settings).tick):
        pass


async def scripted_day(api: TimeApi, now: list[dt.datetime]) -> dict[str, int]:
    await dispatch_line(api, RULES)
    a = await create(api, 1)  # on-site, P2, 液压
    assert await live(api, a) == ["xiaowang"]
    now[0] = T0 + 10 * MIN
    wang, sun = await token_for(api, "xiaowang"), await token_for(api, "xiaosun")
    assert (await wang.post(f"/api/tickets/{a}/claim")).status_code == 200  # 10 min, 液压 5
    b = await create(api, 2, onsite=False)  # remote, P2
    assert await live(api, b) == ["xiaosun"]
    now[0] = T0 + 24 * MIN  # inside the 15-minute claim window
    assert (await sun.post(f"/api/tickets/{b}/claim")).status_code == 200  # 14 min, 液压 2
    r = await api.post(f"/api/tickets/{b}/transfer", {"team": "一组", "reason": "远程搞不定", "engineer": "xiaoli"})
    assert r.status_code == 200, r.text
    r = await api.post(f"/api/tickets/{a}/reassign", {"engineer": "xiaoli", "reason": "小王去培训"})
    assert r.status_code == 200, r.text
    c = await create(api, 3)  # P2 (respond 4h): nobody claims it, so it escalates, then breaches
    d = await create(api, 4, description="注塑机停机")  # P0, claimed after 5 minutes by 二组
    assert "xiaozhao" in await live(api, d)
    now[0] = T0 + 29 * MIN
    zhao = await token_for(api, "xiaozhao")
    assert (await zhao.post(f"/api/tickets/{d}/claim")).status_code == 200
    for minutes in (40, 56, 72, 88, 24 + 241):
        now[0] = T0 + minutes * MIN
        await tick_all(api)
    tl = (await api.get(f"/api/tickets/{c}/timeline")).json()["events"]
    assert [e["data"]["clock"] for e in tl if e["type"] == "sla_breached"] == ["respond"]
    assert [e["type"] for e in tl].count("escalated") == 1
    return {"a": a, "b": b, "c": c, "d": d}


TEAM_ONE = {
    "team": "一组", "created": 2, "claimed": 2, "mean_claim_min": 12.0, "p90_claim_min": 14.0,
    "p0_claimed": 0, "p0_mean_claim_min": None, "respond_due": 2, "respond_breached": 0,
    "respond_timeout_rate": 0.0, "transfers": 1, "team_transfers": 1, "reassignments": 1,
    "skill_rated": 2, "skill_matched": 1, "skill_match_rate": 0.5, "escalations": 0,
}
TEAM_TWO = {
    "team": "二组", "created": 1, "claimed": 1, "mean_claim_min": 5.0, "p90_claim_min": 5.0,
    "p0_claimed": 1, "p0_mean_claim_min": 5.0, "respond_due": 1, "respond_breached": 0,
    "respond_timeout_rate": 0.0, "transfers": 0, "team_transfers": 0, "reassignments": 0,
    "skill_rated": 1, "skill_matched": 1, "skill_match_rate": 1.0, "escalations": 0,
}
UNASSIGNED = {
    "team": None, "created": 1, "claimed": 0, "mean_claim_min": None, "p90_claim_min": None,
    "p0_claimed": 0, "p0_mean_claim_min": None, "respond_due": 1, "respond_breached": 1,
    "respond_timeout_rate": 1.0, "transfers": 0, "team_transfers": 0, "reassignments": 0,
    "skill_rated": 0, "skill_matched": 0, "skill_match_rate": None, "escalations": 1,
}
TOTAL = {
    "created": 4, "claimed": 3, "mean_claim_min": 9.67, "p90_claim_min": 14.0, "p0_claimed": 1,
    "p0_mean_claim_min": 5.0, "respond_due": 4, "respond_breached": 1, "respond_timeout_rate": 0.25,
    "transfers": 1, "team_transfers": 1, "reassignments": 1, "skill_rated": 3, "skill_matched": 2,
    "skill_match_rate": 0.6667, "escalations": 1,
}


async def test_a_scripted_day_gives_each_figure_exactly(tapi: TimeApi, frozen: list[dt.datetime],
                                                        db_url: str) -> None:
    api = tapi
    await scripted_day(api, frozen)
    # default: today in GONGDAN_TIMEZONE (the frozen clock's day)
    r = await api.get("/api/reports/dispatch")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["date"], body["tz"], body["from"]) == ("2026-12-02", "Asia/Shanghai", "2026-12-02T00:00:00+08:00")
    assert [ln["line"] for ln in body["lines"]] == ["dispatch"]
    line = body["lines"][0]
    assert line["total"] == TOTAL
    assert line["teams"] == [TEAM_ONE, TEAM_TWO, UNASSIGNED]
    assert (await api.get("/api/reports/dispatch?date=2026-12-02&line=dispatch")).json()["lines"] == [line]
    assert (await api.get("/api/reports/dispatch?date=2026-12-02&line=other")).json()["lines"] == []
    assert (await api.get("/api/reports/dispatch?date=2026-12-03")).json()["lines"] == []
    # in UTC the day starts 8 hours later: the same events, still 2 December
    utc = (await api.get("/api/reports/dispatch?date=2026-12-02&tz=UTC")).json()
    assert utc["lines"][0]["total"] == TOTAL
    # ... and in Honolulu (UTC-10) 02:00-06:25 UTC is still 1 December
    assert (await api.get("/api/reports/dispatch?date=2026-12-02&tz=Pacific/Honolulu")).json()["lines"] == []
    honolulu = (await api.get("/api/reports/dispatch?date=2026-12-01&tz=Pacific/Honolulu")).json()
    assert honolulu["lines"][0]["total"] == TOTAL and honolulu["from"] == "2026-12-01T00:00:00-10:00"

    # exports: Chinese headers with English beside, one row per line total and team
    r = await api.get("/api/reports/dispatch?date=2026-12-02&format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "dispatch-2026-12-02.csv" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["日期 date", "产品线 line", "班组 team", "新建工单 tickets created"]
    assert "首响超时率 first-response time-out rate" in table[0] and "跨组转派 transfers between teams" in table[0]
    assert [row[:5] for row in table[1:]] == [["2026-12-02", "dispatch", "全部 all", "4", "3"],
                                             ["2026-12-02", "dispatch", "一组", "2", "2"],
                                             ["2026-12-02", "dispatch", "二组", "1", "1"],
                                             ["2026-12-02", "dispatch", "未分配 unassigned", "1", "0"]]
    rate = table[0].index("首响超时率 first-response time-out rate")
    assert [row[rate] for row in table[1:]] == ["0.25", "0.0", "0.0", "1.0"]
    r = await api.get("/api/reports/dispatch?date=2026-12-02&format=xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    sheet = [list(row) for row in ws.iter_rows(values_only=True)]
    assert sheet[0] == table[0]
    assert sheet[1][:5] == ["2026-12-02", "dispatch", "全部 all", 4, 3]
    match = table[0].index("技能匹配率 skill-tag match rate")
    assert [row[match] for row in sheet[1:]] == [0.6667, 0.5, 1.0, None]

    # bad parameters: 422 naming the field; engineers and agents may not read reports
    for query, key in (("date=2026-13-01", "date"), ("tz=Mars/Base", "tz"), ("format=pdf", "format")):
        r = await api.get(f"/api/reports/dispatch?{query}")
        assert r.status_code == 422, r.text
        assert [e["key"] for e in r.json()["extra"]] == [key] and r.json()["message_zh"]
    engineer = await token_for(api, "xiaowang")
    assert (await engineer.get("/api/reports/dispatch")).status_code == 403
    dispatcher = await api.as_("dd", "dispatcher")
    assert (await dispatcher.get("/api/reports/dispatch?date=2026-12-02")).json()["lines"] == [line]

    # the CLI reads the same figures from the database
    env = {**os.environ, "GONGDAN_DATABASE_URL": db_url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from gongdan.cli import main; main()", "report",
                               "dispatch", "--date", "2026-12-02", *args],
                              env=env, capture_output=True, text=True, timeout=120)

    out = await asyncio.to_thread(cli, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["lines"] == [line]
    out = await asyncio.to_thread(cli, "--format", "csv", "--line", "dispatch")
    assert out.returncode == 0, out.stderr
    assert list(csv.reader(io.StringIO(out.stdout))) == table
    out = await asyncio.to_thread(cli)
    assert out.returncode == 0, out.stderr
    assert "首响超时率 first-response time-out rate: 25.0%" in out.stdout
    assert "技能匹配率 skill-tag match rate: 66.7%" in out.stdout


async def test_release_and_the_cores_assign_move_the_ticket_between_teams(
        tapi: TimeApi, frozen: list[dt.datetime]) -> None:
    api = tapi
    await dispatch_line(api, RULES)
    tid = await create(api, 1)
    wang = await token_for(api, "xiaowang")
    frozen[0] = T0 + 6 * MIN
    assert (await wang.post(f"/api/tickets/{tid}/claim")).status_code == 200
    frozen[0] = T0 + 8 * MIN
    assert (await wang.post(f"/api/tickets/{tid}/release", {"reason": "缺工具"})).status_code == 200

    async def teams() -> list[tuple[str | None, int, int, float | None]]:
        body = (await api.get("/api/reports/dispatch?date=2026-12-02")).json()
        return [(t["team"], t["created"], t["claimed"], t["mean_claim_min"]) for t in body["lines"][0]["teams"]]

    # released: nobody holds it, but its first claim (6 minutes) still counts
    assert await teams() == [(None, 1, 1, 6.0)]
    version = (await api.get(f"/api/tickets/{tid}")).json()["version"]
    r = await api.patch(f"/api/tickets/{tid}", {"version": version, "assignee": "xiaozhao"})
    assert r.status_code == 200, r.text
    assert await teams() == [("二组", 1, 1, 6.0)]  # the core's assign hands it to 二组
    version = r.json()["version"]
    r = await api.patch(f"/api/tickets/{tid}", {"version": version, "assignee": None})
    assert r.status_code == 200, r.text
    assert await teams() == [(None, 1, 1, 6.0)]
