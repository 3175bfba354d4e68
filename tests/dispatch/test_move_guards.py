"""Manual reassign and transfer refuse engineers who cannot take the ticket: inactive, left
(org sync) or off shift (unless the dispatcher forces it), through HTTP on SQLite and
PostgreSQL; nothing changes on a refusal."""

from __future__ import annotations

import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from gongdan.store.tables import GdEngineer
from tests.dispatch.conftest import dispatch_line, token_for
from tests.time.conftest import TimeApi

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")


def refused(r, status: int, why: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["message_zh"] and body["message_en"]
    if why is not None:
        assert body["data"]["why"] == why, body
    return body


async def test_reassign_and_transfer_refuse_inactive_left_and_off_shift(tapi: TimeApi) -> None:
    api = tapi
    await dispatch_line(api)
    r = await api.post("/api/lines/dispatch/tickets", demo_ticket(1))
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    wang = await token_for(api, "xiaowang")
    assert (await wang.post(f"/api/tickets/{tid}/claim")).status_code == 200

    async def left() -> None:
        await GdEngineer.update({GdEngineer.org_status: "left"}).where(GdEngineer.key == "xiaoli")

    await api.run(left)
    body = refused(await api.post(f"/api/tickets/{tid}/reassign", {"engineer": "xiaoli", "reason": "x"}),
                   409, "left")
    assert "离职" in body["message_zh"] and "left" in body["message_en"]
    refused(await api.post(f"/api/tickets/{tid}/transfer", {"team": "一组", "reason": "x", "engineer": "xiaoli"}),
            409, "left")

    assert (await api.patch("/api/engineers/xiaosun", {"active": False})).status_code == 200
    body = refused(await api.post(f"/api/tickets/{tid}/reassign", {"engineer": "xiaosun", "reason": "x"}),
                   409, "inactive")
    assert "停用" in body["message_zh"]
    refused(await api.post(f"/api/tickets/{tid}/reassign", {"engineer": "nobody", "reason": "x"}), 422)

    assert (await api.post("/api/engineers/xiaozhao/off-shift")).status_code == 200
    body = refused(await api.post(f"/api/tickets/{tid}/reassign", {"engineer": "xiaozhao", "reason": "x"}),
                   409, "off_shift")
    assert "不在班" in body["message_zh"] and "force" in body["message_en"]
    refused(await api.post(f"/api/tickets/{tid}/transfer", {"team": "二组", "reason": "x", "engineer": "xiaozhao"}),
            409, "off_shift")
    # nothing changed by the refusals
    t = (await api.get(f"/api/tickets/{tid}")).json()
    assert t["assignee"] == "xiaowang"
    tl = (await api.get(f"/api/tickets/{tid}/timeline")).json()["events"]
    assert not [e for e in tl if e["type"] in ("reassigned", "transferred")]

    # a dispatcher may knowingly hand it to someone off shift; the record says so
    r = await api.post(f"/api/tickets/{tid}/transfer",
                       {"team": "二组", "reason": "只有小赵会修", "engineer": "xiaozhao", "force": True})
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] == "xiaozhao"
    tl = (await api.get(f"/api/tickets/{tid}/timeline")).json()["events"]
    moved = [e for e in tl if e["type"] == "transferred"]
    assert moved[-1]["data"]["forced_off_shift"] is True and moved[-1]["data"]["cross_team"] is True
    # force never lets a leaver or an inactive engineer in
    refused(await api.post(f"/api/tickets/{tid}/reassign", {"engineer": "xiaoli", "reason": "x", "force": True}),
            409, "left")
    refused(await api.post(f"/api/tickets/{tid}/reassign", {"engineer": "xiaosun", "reason": "x", "force": True}),
            409, "inactive")
    # an on-shift engineer needs no force
    r = await api.post(f"/api/tickets/{tid}/reassign", {"engineer": "xiaowang", "reason": "回来了"})
    assert r.status_code == 200 and r.json()["assignee"] == "xiaowang"
    assert "forced_off_shift" not in [e for e in (await api.get(f"/api/tickets/{tid}/timeline")).json()["events"]
                                      if e["type"] == "reassigned"][-1]["data"]
