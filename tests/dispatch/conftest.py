"""The platform's fixtures (a fresh database per test on SQLite and PostgreSQL, an admin
client, a live server), plus a repair line with routing rules and a few engineers."""

from __future__ import annotations

from typing import Any

from tests.platform import conftest as platform
from tests.platform.conftest import Api, make_repair_line

# the platform's fixtures, shared
api = platform.api
db_url = platform.db_url

# Its own line key: compiled rulesets are cached per (line, version) in the process, and the
# platform's tests use `repair` v1 for the demo rules.
LINE = "dispatch"

DISPATCH_RULES = """
ruleset "派单测试" for line dispatch

sla P0 "停机类":
    when description has any ["停机", "无法启动"]
    respond 30m
    resolve 4h
    bypass queue

sla P2 "一般":
    otherwise
    respond 4h
    resolve 3d

route "现场维修":
    require engineer.skills[required_skill] >= 3
    require engineer.load < engineer.max_load
    require engineer.on_shift
    score 0.7 * skill_fit + 0.3 * (1 - engineer.load / engineer.max_load)
    fatigue after 2 same fault_type: score * 0.5
    offer top 3 if sla == P0 else top 1
    claim within 15m else reoffer, after 2 reoffers escalate supervisor
"""

ENGINEERS: list[dict[str, Any]] = [
    {"id": "xiaowang", "name": "小王", "skills": {"液压": 5, "电气": 3}, "team": "一组", "supervisor": "laozhang",
     "max_load": 3, "on_shift": True, "region": "310115", "location": {"lat": 31.23, "lon": 121.47}},
    {"id": "xiaoli", "name": "小李", "skills": {"液压": 4}, "team": "一组", "supervisor": "laozhang",
     "max_load": 3, "on_shift": True},
    {"id": "xiaozhao", "name": "小赵", "skills": {"液压": 3, "机械": 5}, "team": "二组", "supervisor": "laoqian",
     "max_load": 3, "on_shift": True},
    {"id": "xiaosun", "name": "小孙", "skills": {"液压": 2}, "team": "二组", "max_load": 3, "on_shift": True},
]


async def dispatch_line(client: Api, rules: str = DISPATCH_RULES,
                        engineers: list[dict[str, Any]] | None = None) -> None:
    """The repair form and states as line `dispatch`, `rules` active, and the engineers created through the API."""
    await make_repair_line(client, LINE, "PD")
    r = await client.put(f"/api/lines/{LINE}/rules", {"source": rules})
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/lines/{LINE}/rules/{r.json()['version']}/activate")
    assert r.status_code == 200, r.text
    for e in ENGINEERS if engineers is None else engineers:
        r = await client.post("/api/engineers", e)
        assert r.status_code == 201, r.text


async def token_for(client: Api, name: str) -> Api:
    """A client for an existing user (an engineer created through /api/engineers)."""
    r = await client.post(f"/api/users/{name}/tokens")
    assert r.status_code == 201, r.text
    return Api(client.client, r.json()["token"])


# the time engine's fixtures: the app with its background loops off (tests tick the
# scheduler themselves) and the injectable clock reset around each test
from tests.time import conftest as time_conftest  # noqa: E402

tapi = time_conftest.tapi
_reset_clock = time_conftest._reset_clock
