"""The after-sales pack's `确认提醒` goes to the customer (`dwell 等待客户确认 … notify customer`):
it must not carry the admin board link (`link`), which only staff can open. Sent to staff,
it does. Rendered with the pack's real demo tickets and the one shared context, on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest

from gongdan import rules_runtime
from gongdan.outbox import service
from gongdan.packs import load_pack
from gongdan.store.tables import GdTicket
from gongdan.timers import clock
from tests.time.conftest import TimeApi

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")


async def test_the_confirmation_reminder_gives_the_customer_no_admin_link(tapi: TimeApi) -> None:
    pack = load_pack("aftersales")
    assert 'notify customer via sms template "确认提醒"' in pack.rules_source
    r = await tapi.post("/api/packs/aftersales/install", {"demo": True})
    assert r.status_code == 200, r.text

    async def render() -> list[tuple[str, str, str]]:
        from gongdan.packs_install import line_templates

        rows = await GdTicket.select().where(GdTicket.line_key == pack.line_key).order_by(
            GdTicket.id).limit(3).output(load_json=True)
        assert rows
        found = service.templates("", await line_templates(pack.line_key))
        out = []
        for row in rows:
            ctx = await service.message_context(row, settings=tapi.settings, now=clock.now(),
                                                event={"type": "dwell_alert"},
                                                extra={"dwell_text": "4 小时 / 4 h"})
            phone = ctx["customer"]["phone"]
            for to in (service.recipient({"kind": "customer"}, row), "customer", "supervisor"):
                msg = found.render("确认提醒", {**ctx, "recipient": {"to": to, "address": phone}})
                out.append((to, str(row["number"]), msg.text))
        return out

    rendered = await tapi.run(render)
    for to, number, text in rendered:
        assert number in text, text
        if to == "supervisor":
            assert "/admin/board?q=" + number in text, text  # staff get the ticket's link
        else:
            assert "/admin" not in text and "http" not in text, text
            assert "请确认服务结果" in text and "回复 TD 退订" in text
