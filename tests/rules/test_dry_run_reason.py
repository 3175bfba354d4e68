"""`POST /api/lines/<key>/dry-run` says why the ticket got its SLA tier (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.platform import conftest as platform
from tests.platform.conftest import Api
from tests.platform.test_rules_api import active_repair_line

# the platform's fixtures: a fresh database per test on both engines, an admin client
api = platform.api
db_url = platform.db_url


async def test_dry_run_gives_the_matched_keyword_field_line_and_sentence(api: Api) -> None:
    await active_repair_line(api)
    r = await api.post("/api/lines/repair/dry-run", {"ticket": {"description": "控制柜冒烟", "onsite": False}})
    assert r.status_code == 200, r.text
    sla = r.json()["sla"]
    assert sla["tier"] == "P0"
    # the form's title of the field (描述) in Chinese, its key in English
    assert sla["why_zh"] == "描述含关键词「冒烟」，命中 P0「停机类」"
    assert sla["why_en"] == "description contains 冒烟, matches P0 (停机类)"
    assert sla["why"] == f"{sla['why_zh']} / {sla['why_en']}"  # what the dry-run page shows
    reason = sla["reason"]
    assert reason["matches"] == [{"field": "description", "keywords": ["冒烟"]}]
    assert reason["condition"].startswith("description has any") and reason["line"] == 6
    assert reason["otherwise"] is False


async def test_dry_run_names_the_or_part_that_held_and_otherwise(api: Api) -> None:
    await active_repair_line(api)
    r = await api.post("/api/lines/repair/dry-run", {"ticket": {"description": "例行保养", "fault_code": "E-101"}})
    assert r.status_code == 200, r.text
    sla = r.json()["sla"]
    assert sla["tier"] == "P0" and sla["reason"]["condition"] == 'fault_code in ["E-101", "E-102"]'
    assert sla["reason"]["line"] == 7 and "E-101" in sla["why_zh"] and "fault_code is E-101" in sla["why_en"]
    r = await api.post("/api/lines/repair/dry-run", {"ticket": {"description": "外壳掉漆"}})
    sla = r.json()["sla"]
    assert sla["tier"] == "P2" and sla["reason"]["otherwise"] is True and sla["reason"]["condition"] is None
    assert "otherwise" in sla["why_zh"] and "otherwise" in sla["why_en"]
    assert (await api.get("/api/tickets")).json()["items"] == []  # still nothing stored
