"""The admin UI's four flows in headless Chromium against a real `gongdan serve` (issue 7):
design a form and save it, create a ticket with it and find it on the board (desktop and
phone), fix a misspelt field in the rules editor, and read a dry-run's score breakdown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Server, Shots, open_page

pytestmark = pytest.mark.browser

# The three fields the designer test adds (and the board test fills in).
NEW_FIELDS = [
    {"key": "customer_name", "label": "联系人", "type": "text", "required": True},
    {"key": "urgency", "label": "紧急程度", "type": "select", "required": False,
     "options": ["一般", "紧急", "非常紧急"]},
    {"key": "downtime_hours", "label": "停机时长（小时）", "type": "number", "required": False},
]


def ensure_designed_form(server: Server) -> None:
    """The form with NEW_FIELDS, as the designer test leaves it (put through the API when
    that test did not run first, so each test also runs alone)."""
    form = server.get("/api/lines/repair/form")
    if not {f["key"] for f in NEW_FIELDS} <= {f["key"] for f in form["fields"]}:
        r = server.http.put("/api/lines/repair/form", json={"fields": form["fields"] + NEW_FIELDS})
        assert r.status_code == 200, r.text


def choose(page: Any, key: str, option: str) -> None:
    """Pick `option` in the Element Plus select of form field `key`."""
    page.locator(f"[data-test=preview-{key}] .el-select").click()
    page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()


def fill(page: Any, key: str, value: str) -> None:
    page.locator(f"[data-test=preview-{key}] input, [data-test=preview-{key}] textarea").first.fill(value)


def drag(page: Any, source: Any, target: Any) -> None:
    """Drop `source` on the lower part of `target` (SortableJS then puts it after `target`).
    SortableJS runs in fallback mode, which follows mouse events: press, move in steps,
    release."""
    target.scroll_into_view_if_needed()
    a = source.bounding_box()
    b = target.bounding_box()
    assert a and b
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(a["x"] + a["width"] / 2 + 20, a["y"] + a["height"] / 2 + 5, steps=5)
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] * 0.3, steps=15)
    # the ghost now sits before `target`, which moved down: go past its middle
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] * 1.2, steps=10)
    page.mouse.up()


def test_sign_in_with_a_token(browser: Any, server: Server, shots: Shots) -> None:
    page = open_page(browser, server, signed_in=False)
    try:
        page.goto("/admin/board")
        expect(page).to_have_url(re.compile(r"/admin/login\?next="))  # not signed in yet
        page.locator("#tab-token").click()
        page.locator("input[data-test=token]").fill(server.token)
        shots(page, "login-token", docs="login-token")
        page.locator("[data-test=sign-in]").click()
        expect(page).to_have_url(re.compile(r"/admin/board$"))  # back where it was going
        for item in ("designer", "rules", "dry-run", "board", "engineers"):  # the admin's menu
            expect(page.locator(f"[data-test=menu-{item}]")).to_be_visible()
        expect(page.locator("[data-test=line-select]")).to_contain_text("设备维修")
        page.locator("[data-test=col-新建]").wait_for()
        shots(page, "signed-in")
        page.locator("[data-test=lang]").click()  # English, and back
        expect(page.locator("[data-test=menu-board]")).to_contain_text("Ticket board")
        page.locator("[data-test=lang]").click()
        expect(page.locator("[data-test=menu-board]")).to_contain_text("工单看板")
        assert not page.errors
    finally:
        page.context.close()


def test_sign_in_with_a_user_and_password(browser: Any, server: Server, shots: Shots) -> None:
    page = open_page(browser, server, signed_in=False)
    try:
        page.goto("/admin/engineers")
        expect(page).to_have_url(re.compile(r"/admin/login\?next="))
        # user and password is the default tab; a wrong password is refused on the form
        page.locator("input[data-test=login-name]").fill("admin")
        page.locator("input[data-test=login-password]").fill(server.password)
        shots(page, "login", docs="login")
        page.locator("input[data-test=login-password]").fill("not-the-password")
        with page.expect_response(lambda r: r.url.endswith("/api/login")) as refused:
            page.locator("[data-test=sign-in]").click()
        assert refused.value.status == 401
        expect(page.locator(".el-form-item__error")).to_have_text("用户名或密码错误")
        expect(page).to_have_url(re.compile(r"/admin/login"))
        page.locator("input[data-test=login-password]").fill(server.password)
        with page.expect_response(lambda r: r.url.endswith("/api/login")) as accepted:
            page.locator("[data-test=sign-in]").click()
        assert accepted.value.status == 200
        issued = accepted.value.json()
        assert issued["user"] == "admin" and issued["expires_at"]
        expect(page).to_have_url(re.compile(r"/admin/engineers$"))
        expect(page.locator("[data-test=engineer-table]")).to_contain_text("王工")
        # the session is the issued token, not the password
        assert page.evaluate("localStorage.getItem('gongdan.token')") == issued["token"]
        assert not page.errors
    finally:
        page.context.close()


def test_design_a_form_with_three_fields_and_save_it(page: Any, server: Server,
                                                      shots: Shots) -> None:
    before = server.get("/api/lines/repair/form")
    page.goto("/admin/designer")
    canvas = page.locator("[data-test=canvas]")
    canvas.locator("[data-test^=field-]").first.wait_for()
    n = canvas.locator("[data-test^=field-]").count()
    shots(page, "designer")

    # 1. a text field, dragged from the palette to the end of the canvas
    drag(page, page.locator("[data-test=palette-text]"), canvas.locator("[data-test^=field-]").last)
    page.wait_for_function(
        "n => document.querySelectorAll('[data-test=canvas] [data-test^=field-]').length === n + 1", arg=n)
    page.locator("input[data-test=prop-label]").fill("联系人")
    suggestion = page.locator("[data-test=key-suggestion]")
    assert "customer_name" in suggestion.inner_text()  # the field dictionary's key for 联系人
    page.locator("[data-test=use-suggestion]").click()
    assert page.locator("input[data-test=prop-key]").input_value() == "customer_name"
    page.locator("[data-test=prop-required]").click()

    # 2. a select, clicked: no options yet is an error shown on the field, before saving
    page.locator("[data-test=palette-select]").click()
    page.locator("input[data-test=prop-label]").fill("紧急程度")
    page.locator("input[data-test=prop-key]").fill("urgency")
    assert page.locator("[data-test=field-urgency] [data-test=field-error]").count() >= 1
    page.locator("textarea[data-test=prop-options]").fill("一般\n紧急\n非常紧急")
    assert page.locator("[data-test=field-urgency] [data-test=field-error]").count() == 0

    # 3. a number, clicked
    page.locator("[data-test=palette-number]").click()
    page.locator("input[data-test=prop-label]").fill("停机时长（小时）")
    page.locator("input[data-test=prop-key]").fill("downtime_hours")

    keys = [k.removeprefix("field-") for k in
            canvas.locator("[data-test^=field-]").evaluate_all("els => els.map(e => e.dataset.test)")]
    assert keys[-3:] == ["customer_name", "urgency", "downtime_hours"], keys
    assert page.locator("[data-test=field-error]").count() == 0
    shots(page, "designer-three-fields", docs="designer-fields")

    with page.expect_response(lambda r: r.url.endswith("/api/lines/repair/form")
                              and r.request.method == "PUT") as saved:
        page.locator("[data-test=save-form]").click()
    assert saved.value.status == 200, saved.value.text()
    version = saved.value.json()["version"]
    assert version == before["version"] + 1
    page.locator(".el-message--success").wait_for()
    shots(page, "designer-saved")

    form = server.get("/api/lines/repair/form")
    assert form["version"] == version
    by_key = {f["key"]: f for f in form["fields"]}
    for f in NEW_FIELDS:
        got = by_key[f["key"]]
        assert (got["label"], got["type"], got.get("required", False)) == (f["label"], f["type"], f["required"])
    assert by_key["urgency"]["options"] == ["一般", "紧急", "非常紧急"]
    # the fields before the new ones are unchanged
    assert [f["key"] for f in form["fields"]][: len(before["fields"])] == [f["key"] for f in before["fields"]]
    assert not page.errors


TITLE = "2号冲压机液压站漏油（浏览器测试）"


def test_create_a_ticket_and_find_it_on_the_board(page: Any, browser: Any, server: Server,
                                                  shots: Shots) -> None:
    ensure_designed_form(server)
    page.goto("/admin/board")
    page.locator("[data-test=col-新建]").wait_for()
    shots(page, "board-before")
    page.locator("[data-test=new-ticket]").click()
    dialog = page.locator(".el-dialog")
    dialog.locator("[data-test=preview-customer_name]").wait_for()

    choose(page, "category", "设备维修")
    fill(page, "title", TITLE)
    fill(page, "description", "液压站漏油，压力下降")
    fill(page, "customer_id", "C2001")
    fill(page, "customer_phone", "13800138000")
    fill(page, "device_sn", "PRS-2024-00002")
    fill(page, "fault_code", "E-301")
    fill(page, "region", "310101")
    loc = page.locator("[data-test=preview-location] input")
    loc.nth(0).fill("31.2304")
    loc.nth(1).fill("121.4737")
    assert page.locator("[data-test=preview-reported_at] input").input_value()  # defaults to now
    choose(page, "device_category", "注塑机")
    choose(page, "fault_type", "漏油")
    page.locator("[data-test=preview-onsite] .el-switch").click()
    fill(page, "address", "上海市黄浦区中山东一路 1 号")
    choose(page, "required_skill", "液压")
    # the three fields the designer added
    fill(page, "customer_name", "赵经理")
    choose(page, "urgency", "紧急")
    fill(page, "downtime_hours", "3")
    shots(page, "board-new-ticket", docs="board-new-ticket")

    with page.expect_response(lambda r: r.url.endswith("/api/lines/repair/tickets")
                              and r.request.method == "POST") as created:
        page.locator("[data-test=submit-ticket]").click()
    assert created.value.status == 201, created.value.text()
    ticket = created.value.json()
    number = ticket["number"]
    assert ticket["fields"]["customer_name"] == "赵经理"
    assert ticket["fields"]["urgency"] == "紧急"
    assert ticket["fields"]["downtime_hours"] == 3
    assert ticket["sla"]["tier"] == "P1"  # 漏油: the demo rules' 影响生产 tier

    card = page.locator(f"[data-test=col-新建] [data-test=card-{number}]")
    card.wait_for()
    assert TITLE in card.inner_text() and "P1" in card.inner_text()
    page.locator(".el-message").first.wait_for(state="hidden")
    shots(page, "board", docs="board")

    card.click()
    drawer = page.locator("[data-test=ticket-drawer]")
    drawer.locator("[data-test=timeline]").wait_for()
    assert number in drawer.inner_text() and "赵经理" in drawer.inner_text()
    shots(page, "board-ticket-detail", docs="board-detail")

    # the same board on a phone: the columns scroll sideways, the page itself does not
    phone = open_page(browser, server, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone.goto("/admin/board")
        phone_card = phone.locator(f"[data-test=col-新建] [data-test=card-{number}]")
        phone_card.wait_for()
        box = phone_card.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shots(phone, "board-phone", docs="board-phone")
        phone_card.click()
        detail = phone.locator("[data-test=ticket-drawer]")
        detail.locator("[data-test=timeline]").wait_for()
        shots(phone, "board-phone-detail")
        assert not phone.errors
    finally:
        phone.context.close()
    assert not page.errors


def line_number_at(page: Any, element: Any) -> str:
    """The editor's gutter line number level with `element` (what the admin sees)."""
    box = element.bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    return page.evaluate(
        """y => [...document.querySelectorAll('.cm-lineNumbers .cm-gutterElement')]
            .filter(g => { const r = g.getBoundingClientRect(); return r.height && r.top <= y && y < r.bottom; })
            .map(g => g.textContent)[0] ?? ''""", y)


def test_rules_editor_shows_a_misspelt_field_at_its_line_and_fixes_it(page: Any, server: Server,
                                                                     shots: Shots) -> None:
    active = next(v["version"] for v in server.get("/api/lines/repair/rules") if v["active"])
    source = server.get(f"/api/lines/repair/rules/{active}")["source"]  # what the editor opens
    before = source.splitlines().index('sla P2 "一般":') + 1  # the new rule goes above this line
    when_line = before + 1

    page.goto("/admin/rules")
    editor = page.locator("[data-test=rules-editor] .cm-content")
    editor.locator(".cm-line", has_text='sla P2 "一般":').wait_for()
    # (a tag on its way out, in Element Plus's leave transition, does not count)
    problems = page.locator("[data-test=rules-problems]:not([class*=leave])")
    # the demo rules: warnings only (the first check may be of the still empty editor)
    expect(problems).to_have_text(re.compile("^0 个错误"))
    shots(page, "rules")

    # type a new SLA tier above `sla P2`, with device_category misspelt
    editor.locator(".cm-line", has_text='sla P2 "一般":').click()
    page.keyboard.press("Home")
    page.keyboard.insert_text('sla P3 "数控机床停机":\n    when ')
    page.keyboard.type("devise_category")
    page.keyboard.press("Escape")  # close the completion list, if open
    page.keyboard.insert_text(' == "数控机床" and fault_type == "停机"\n    respond 1h\n    resolve 8h\n\n')

    listed = page.locator("[data-test=problem-list] .problem", has_text="E200")
    listed.wait_for()
    assert listed.locator(".pos").inner_text() == f"{when_line}:10"
    assert "未知字段 devise_category" in listed.inner_text()
    expect(problems).to_have_text(re.compile("^1 个错误"))
    squiggle = page.locator(".cm-lintRange-error")
    assert squiggle.count() == 1 and squiggle.inner_text() == "devise_category"
    assert line_number_at(page, squiggle) == str(when_line)
    marker = page.locator(".cm-lint-marker-error")
    assert marker.count() == 1 and line_number_at(page, marker) == str(when_line)

    squiggle.hover()  # the tooltip: the Chinese message and the one-click fix
    tooltip = page.locator(".cm-tooltip-lint")
    tooltip.wait_for()
    assert "未知字段 devise_category" in tooltip.inner_text() and "device_category" in tooltip.inner_text()
    shots(page, "rules-diagnostic", docs="rules-diagnostic")

    fix = listed.locator("[data-test=problem-fix]")
    assert fix.inner_text() == "改为 device_category"
    page.mouse.move(0, 0)
    fix.click()
    page.locator("[data-test=problem-list] .problem", has_text="E200").wait_for(state="detached")
    page.wait_for_function("() => document.querySelectorAll('.cm-lintRange-error').length === 0")
    expect(problems).to_have_text(re.compile("^0 个错误"))
    assert editor.locator(".cm-line", has_text='when device_category == "数控机床"').count() == 1
    shots(page, "rules-fixed", docs="rules-fixed")

    # the fixed text saves as a new version (not activated)
    with page.expect_response(lambda r: r.url.endswith("/api/lines/repair/rules")
                              and r.request.method == "PUT") as saved:
        page.locator("[data-test=save-rules]").click()
    assert saved.value.status == 201, saved.value.text()
    version = saved.value.json()["version"]
    page.locator(f"[data-test=version-{version}]").wait_for()
    stored = server.get(f"/api/lines/repair/rules/{version}")["source"]
    assert stored.splitlines()[when_line - 1] == '    when device_category == "数控机床" and fault_type == "停机"'
    assert not page.errors


def shown_as(value: Any) -> str:
    """A factor value as the dispatch table writes it (admin-ui/src/lib/dispatch.ts formatValue)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
    return str(value)


def table_rows(table: Any) -> list[dict[str, str]]:
    """An Element Plus table as {header: cell text} per row, in display order."""
    headers = table.locator(".el-table__header th").evaluate_all("ths => ths.map(th => th.innerText.trim())")
    cells = table.locator(".el-table__body tr").evaluate_all(
        "trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))")
    return [dict(zip(headers, row, strict=False)) for row in cells]


def test_dry_run_shows_the_top_engineers_score_breakdown(page: Any, server: Server,
                                                          shots: Shots) -> None:
    found = server.get("/api/tickets", params={"line": "repair", "q": "注塑机故障 #1"})["items"]
    ticket = next(t for t in found if t["fields"]["title"] == "3号线注塑机故障 #1")
    # what the server decides for it: the reference the page must show
    expected = server.post("/api/lines/repair/dry-run", {"ticket": ticket["fields"]})
    route = expected["route"]
    top = next(c for c in route["candidates"] if c["rank"] == 1)
    assert route["pool"] == "现场维修" and route["offered"] == [top["engineer_id"]] == ["li"]

    page.goto("/admin/dry-run")
    page.locator("[data-test=pick-ticket]").click()
    page.keyboard.type("注塑机故障 #1")
    page.locator(".el-select-dropdown__item:visible", has_text=ticket["number"]).click()
    page.locator("[data-test=run-dry]").click()

    expect(page.locator("[data-test=dry-tier]")).to_contain_text("P1")
    expect(page.locator("[data-test=dry-tier]")).to_contain_text("影响生产")
    assert page.locator("[data-test=pool]").inner_text() == "现场维修"
    table = page.locator("[data-test=dispatch-table]")
    table.locator(f"[data-test=cand-{top['engineer_id']}]").wait_for()
    shots(page, "dry-run", docs="dry-run")

    rows = table_rows(table)
    assert [r["工程师"] for r in rows] == ["李工", "王工", "张工"]
    first = rows[0]
    assert (first["排名"], first["得分"]) == ("1", f"{top['score']:.3f}")  # the page shows what the API ranked
    # every factor of the score, as the rules' `score` line names it
    weighted = {k: v for k, v in top["factors"].items() if "*" in k}
    assert len(weighted) == 3
    for name, value in top["factors"].items():
        assert first[name] == shown_as(value), name
    assert abs(sum(float(first[k]) for k in weighted) - float(first["得分"])) < 0.002
    assert first["0.5 * skill_fit"] == "0.500" and first["skill_fit"] == "1"
    # the others: the runner-up's score, and the `require` that rejected 张工
    assert rows[1]["排名"] == "2" and rows[1]["得分"] == "0.729"
    assert rows[2]["排名"] == "—" and rows[2]["被以下条件排除"] == "engineer.skills[required_skill] >= 3"
    why = page.locator("[data-test=why-text]")
    assert "李工" in why.inner_text() and "王工" in why.inner_text()
    assert not page.errors


# --- what the pages also show (a strict xfail marks what cannot work yet: it fails loudly once fixed)


def dry_run_first_demo_ticket(page: Any) -> Any:
    page.goto("/admin/dry-run")
    page.locator("[data-test=pick-ticket]").click()
    page.keyboard.type("注塑机故障 #1")
    page.locator(".el-select-dropdown__item:visible", has_text="-0001").click()
    page.locator("[data-test=run-dry]").click()
    table = page.locator("[data-test=dispatch-table]")
    table.locator("[data-test=cand-li]").wait_for()
    return table


def test_dry_run_draws_the_score_chart(page: Any, server: Server, shots: Shots) -> None:
    dry_run_first_demo_ticket(page)
    shots(page, "dry-run-chart")
    expect(page.locator(".dispatch .chart canvas")).to_be_visible()


def test_dry_run_says_the_decision_in_words(page: Any, server: Server, shots: Shots) -> None:
    dry_run_first_demo_ticket(page)
    shots(page, "dry-run-summary")
    expect(page.locator("[data-test=dispatch-summary]")).to_contain_text("派给 李工")


def test_engineers_page_lists_the_engineers(page: Any, server: Server, shots: Shots) -> None:
    page.goto("/admin/engineers")
    table = page.locator("[data-test=engineer-table]")
    table.wait_for()
    page.wait_for_load_state("networkidle")
    shots(page, "engineers")
    expect(table).to_contain_text("王工")
    expect(table).to_contain_text("PLC调试", timeout=15_000)
