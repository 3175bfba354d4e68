"""More of the admin UI in headless Chromium against the real server: the rules versions
(list, activation, side-by-side diff), the board's filters and a ticket's detail, editing
and importing engineers, the designer's reorder/default/help, and every page at 1366x768
without a horizontal scrollbar."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from gongdan.demo import demo_ticket
from tests.browser.conftest import DESKTOP, Server, Shots, open_page
from tests.browser.test_admin_flows import NEW_FIELDS, ensure_designed_form

pytestmark = pytest.mark.browser


def sign_in(page: Any, name: str, password: str) -> Any:
    """Sign in on the login page; returns the /api/login response."""
    page.goto("/admin/login")
    page.locator("input[data-test=login-name]").fill(name)
    page.locator("input[data-test=login-password]").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/api/login")) as answer:
        page.locator("[data-test=sign-in]").click()
    return answer.value


def test_change_my_password(browser: Any, server: Server, shots: Shots) -> None:
    server.post("/api/users", {"name": "zhou", "role": "supervisor", "display_name": "周主管",
                               "password": "first-secret"}, status=201)
    page = open_page(browser, server, signed_in=False)
    try:
        assert sign_in(page, "zhou", "first-secret").status == 200
        page.locator("[data-test=menu-board]").wait_for()
        page.locator("[data-test=change-password]").click()
        dialog = page.locator(".el-dialog:visible")
        dialog.locator("input[data-test=password-old]").fill("not-my-password")
        dialog.locator("input[data-test=password-new]").fill("second-secret")
        dialog.locator("input[data-test=password-repeat]").fill("second-secreT")
        dialog.locator("[data-test=password-save]").click()
        expect(dialog).to_contain_text("两次输入的新密码不一致")  # checked before sending
        dialog.locator("input[data-test=password-repeat]").fill("second-secret")
        with page.expect_response(lambda r: "/password" in r.url) as refused:
            dialog.locator("[data-test=password-save]").click()
        assert refused.value.status == 403
        expect(dialog).to_contain_text("原密码不正确")
        dialog.locator("input[data-test=password-old]").fill("first-secret")
        shots(page, "change-password")
        with page.expect_response(lambda r: r.url.endswith("/api/login")) as again:
            dialog.locator("[data-test=password-save]").click()
        assert again.value.status == 200  # signed in again with the new password
        expect(page.locator(".el-message--success", has_text="密码已修改")).to_be_visible()
        expect(dialog).to_be_hidden()
        # still signed in: the page keeps working with the new session
        page.goto("/admin/board")
        page.locator("[data-test=col-新建]").wait_for()
        page.locator("text=退出").click()
        assert sign_in(page, "zhou", "first-secret").status == 401
        assert sign_in(page, "zhou", "second-secret").status == 200
        page.locator("[data-test=menu-board]").wait_for()
        assert not page.errors
    finally:
        page.context.close()


def versions(server: Server) -> list[dict[str, Any]]:
    return server.get("/api/lines/repair/rules")


def active_version(server: Server) -> int:
    return next(v["version"] for v in versions(server) if v["active"])


def activate(server: Server, version: int) -> None:
    r = server.http.post(f"/api/lines/repair/rules/{version}/activate")
    assert r.status_code in (200, 201), r.text


def upload_variant(server: Server, old: str, new: str) -> tuple[int, int, str]:
    """A new version of the active rules with `old` replaced by `new`: (active, new, source)."""
    active = active_version(server)
    source = server.get(f"/api/lines/repair/rules/{active}")["source"]
    assert old in source
    r = server.http.put("/api/lines/repair/rules", json={"source": source.replace(old, new, 1)})
    assert r.status_code == 201, r.text
    return active, r.json()["version"], source


def pick(page: Any, select: Any, option: str) -> None:
    """Choose `option` in an Element Plus select."""
    select.click()
    item = page.locator(".el-select-dropdown__item:visible").filter(
        has_text=re.compile(rf"^\s*{re.escape(option)}\s*$"))
    item.first.click()
    # wait until the list has gone, so the next pick does not find this one's items
    expect(page.locator(".el-select__popper:visible")).to_have_count(0)


def test_rules_versions_activation_and_diff(page: Any, server: Server, shots: Shots) -> None:
    before, new, _ = upload_variant(server, "    respond 4h\n", "    respond 6h\n")
    try:
        page.goto("/admin/rules")
        item = page.locator(f"[data-test=version-{new}]")
        item.wait_for()
        # every version is listed, newest first, the active one tagged
        listed = page.locator("[data-test^=version-]").evaluate_all(
            "els => els.map(e => Number(e.dataset.test.replace('version-', '')))")
        assert sorted(listed, reverse=True) == listed
        assert set(listed) == {v["version"] for v in versions(server)}
        expect(page.locator(f"[data-test=version-{before}]")).to_contain_text("生效中")
        expect(item).not_to_contain_text("生效中")

        # activate the new version from the list (after confirming)
        item.locator(f"[data-test=activate-{new}]").click()
        page.locator(".el-message-box").wait_for()
        shots(page, "rules-activate")
        with page.expect_response(lambda r: r.url.endswith(f"/rules/{new}/activate")) as done:
            page.locator(".el-message-box__btns .el-button--primary").click()
        assert done.value.status in (200, 201), done.value.text()
        expect(item).to_contain_text("生效中")
        expect(page.locator(f"[data-test=activate-{new}]")).to_have_count(0)
        expect(page.locator(f"[data-test=activate-{before}]")).to_be_visible()
        assert active_version(server) == new
        page.locator(".el-message--success").first.wait_for(state="hidden")
        shots(page, "rules-versions", docs="rules-versions")

        # side by side: the old version on the left, the new on the right
        page.locator("#tab-diff").click()
        pick(page, page.locator("[data-test=diff-left]"), f"v{before}")
        pick(page, page.locator("[data-test=diff-right]"), f"v{new}")
        page.locator("[data-test=compare]").click()
        diff = page.locator("[data-test=rules-diff]")
        sides = diff.locator(".cm-mergeViewEditor")
        expect(sides).to_have_count(2)
        changed_left = sides.nth(0).locator(".cm-changedLine")
        changed_right = sides.nth(1).locator(".cm-changedLine")
        expect(changed_left).to_have_count(1)
        expect(changed_right).to_have_count(1)
        assert "respond 4h" in changed_left.inner_text()
        assert "respond 6h" in changed_right.inner_text()
        # and how the replayed tickets' tiers would change (the tiers do not: only a time)
        expect(page.locator("[data-test=replay]")).to_contain_text("0")
        shots(page, "rules-diff", docs="rules-diff")
        assert not page.errors
    finally:
        activate(server, before)


def wait_until_overdue(server: Server, number: str) -> None:
    """Until the server's overdue filter lists the ticket (its 1 s respond-by passes)."""
    deadline = time.monotonic() + 60
    while True:
        found = server.get("/api/tickets", params={"overdue": "true", "q": number})["items"]
        if any(t["number"] == number for t in found):
            return
        assert time.monotonic() < deadline, f"{number} never became overdue"
        time.sleep(0.5)


def overdue_ticket(server: Server) -> dict[str, Any]:
    """An unassigned P0 ticket whose respond-by is 1 s after creation: the rules are briefly
    switched to a version answering P0 in 1 s, then back."""
    ensure_designed_form(server)  # its 联系人 is required
    before, quick, _ = upload_variant(server, "    respond 30m\n", "    respond 1s\n")
    activate(server, quick)
    try:
        body = demo_ticket(901, title="冷却异常停机（超时测试）", description="冷却异常，设备停机",
                           onsite=False, customer_name="孙经理")
        body.pop("address")
        ticket = server.post("/api/lines/repair/tickets", body, status=201)
    finally:
        activate(server, before)
    assert ticket["sla"]["tier"] == "P0" and ticket["assignee"] is None
    wait_until_overdue(server, ticket["number"])
    return ticket


def cards(page: Any) -> set[str]:
    """The ticket numbers on the board's cards."""
    return set(page.locator("[data-test=board] [data-test^=card-]").evaluate_all(
        "els => els.map(e => e.dataset.test.replace('card-', ''))"))


def numbers(server: Server, **params: str) -> set[str]:
    items = server.get("/api/tickets", params={"line": "repair", "limit": 500, **params})["items"]
    return {t["number"] for t in items}


def board_settles(page: Any, expected: set[str]) -> None:
    page.wait_for_function(
        """want => { const got = [...document.querySelectorAll('[data-test=board] [data-test^=card-]')]
             .map(e => e.dataset.test.replace('card-', '')).sort();
             return JSON.stringify(got) === JSON.stringify(want); }""", arg=sorted(expected))


def test_board_filters_and_a_tickets_detail(page: Any, server: Server, shots: Shots) -> None:
    late = overdue_ticket(server)
    page.goto("/admin/board")
    board_settles(page, numbers(server))

    # overdue: the server's filter; the card is marked 已超时
    page.locator("[data-test=filter-overdue]").click()
    overdue = numbers(server, overdue="true")
    assert late["number"] in overdue and overdue != numbers(server)
    board_settles(page, overdue)
    card = page.locator(f"[data-test=card-{late['number']}]")
    expect(card).to_contain_text("已超时")
    expect(page.locator("[data-test=shown-count]")).to_have_text(
        f"已显示 {len(overdue)} / 共 {len(overdue)} 张")
    shots(page, "board-overdue", docs="board-overdue")
    page.locator("[data-test=filter-overdue]").click()
    board_settles(page, numbers(server))

    # tier
    pick(page, page.locator("[data-test=filter-tier]"), "P0")
    p0 = numbers(server, tier="P0")
    assert late["number"] in p0
    board_settles(page, p0)
    page.locator("[data-test=filter-tier] .el-select__wrapper").hover()
    page.locator("[data-test=filter-tier] .el-select__clear").click()
    board_settles(page, numbers(server))

    # assignee: the demo's PLC ticket is 王工's
    pick(page, page.locator("[data-test=filter-assignee]"), "王工")
    wangs = numbers(server, assignee="wang")
    assert wangs
    board_settles(page, wangs)
    shots(page, "board-filtered", docs="board-filters")

    # the detail: fields, SLA, timeline and the dispatch explanation
    plc = next(t for t in server.get("/api/tickets", params={"assignee": "wang"})["items"]
               if t["fields"].get("device_category") == "PLC")
    page.locator(f"[data-test=card-{plc['number']}]").click()
    drawer = page.locator("[data-test=ticket-drawer]")
    timeline = drawer.locator("[data-test=timeline]")
    timeline.wait_for()
    events = server.get(f"/api/tickets/{plc['id']}/timeline")["events"]
    expect(timeline.locator(".el-timeline-item")).to_have_count(len(events))
    expect(drawer).to_contain_text(plc["number"])
    expect(drawer).to_contain_text("王工")
    expect(drawer).to_contain_text("PLC 报警灯闪烁")
    shots(page, "board-detail-timeline")
    drawer.locator("#tab-dispatch").click()
    decisions = server.get(f"/api/tickets/{plc['id']}/dispatch")["decisions"]
    assert decisions
    table = drawer.locator("[data-test=dispatch-table]").first
    table.wait_for()
    expect(drawer.locator("[data-test=pool]").first).to_have_text(decisions[0]["pool"])
    for c in decisions[0]["candidates"]:
        expect(table.locator(f"[data-test=cand-{c['engineer_id']}]")).to_be_visible()
    shots(page, "board-detail-dispatch", docs="board-dispatch")
    assert not page.errors


def engineers(server: Server) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in server.get("/api/engineers")["items"]}


def test_engineers_edit_and_import(page: Any, server: Server, shots: Shots,
                                   tmp_path: Path) -> None:
    page.goto("/admin/engineers")
    table = page.locator("[data-test=engineer-table]")
    expect(table).to_contain_text("张工")

    # edit: team, max load and a new skill
    page.locator("[data-test=edit-zhang]").first.click()
    dialog = page.locator(".el-dialog:visible")
    dialog.locator("input[data-test=eng-team]").fill("苏州二组")
    dialog.locator("[data-test=eng-max-load] input").fill("7")
    dialog.locator("[data-test=add-skill]").click()
    n = dialog.locator("[data-test^=skill-name-]").count()
    dialog.locator(f"input[data-test=skill-name-{n - 1}]").fill("液压")
    shots(page, "engineers-edit", docs="engineers-edit")
    with page.expect_response(lambda r: "/api/engineers/zhang" in r.url
                              and r.request.method == "PATCH") as saved:
        dialog.locator("[data-test=save-engineer]").click()
    assert saved.value.status == 200, saved.value.text()
    zhang = engineers(server)["zhang"]
    assert zhang["team"] == "苏州二组" and zhang["max_load"] == 7
    assert zhang["skills"]["液压"] == 3 and zhang["skills"]["机械"] == 5
    expect(table).to_contain_text("苏州二组")

    # import: an .xls is refused in the page (the server reads .csv and .xlsx only)
    upload = page.locator("[data-test=import] input[type=file]")
    assert upload.get_attribute("accept") == ".csv,.xlsx"
    old = tmp_path / "engineers.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0 not really excel")
    upload.set_input_files(str(old))
    expect(page.locator(".el-message--error")).to_contain_text("只能导入 .csv 或 .xlsx")

    # a CSV with a bad row: the row's error, nothing imported
    bad = tmp_path / "bad.csv"
    bad.write_text("工号,姓名,技能,负载上限\nE901,赵工,PLC调试:4,5\nE902,,液压:3,4\n",
                   encoding="utf-8")
    with page.expect_response(lambda r: r.url.endswith("/api/engineers/import")) as refused:
        upload.set_input_files(str(bad))
    assert refused.value.status == 422, refused.value.text()
    alert = page.locator(".el-alert--error")
    expect(alert).to_contain_text("未导入任何数据")
    expect(alert).to_contain_text("#3")
    assert "E901" not in engineers(server)

    # a good CSV: both engineers listed, with their skills
    good = tmp_path / "good.csv"
    good.write_text("\ufeff工号,姓名,技能,负载上限,班组\n"
                    'E901,赵工,"PLC调试:4; 电气:2",5,杭州组\nE902,钱工,液压:3,4,杭州组\n',
                    encoding="utf-8")
    with page.expect_response(lambda r: r.url.endswith("/api/engineers/import")) as imported:
        upload.set_input_files(str(good))
    assert imported.value.status == 200, imported.value.text()
    expect(page.locator(".el-message--success", has_text="已导入 2 人")).to_be_visible()
    expect(table).to_contain_text("赵工")
    expect(table).to_contain_text("PLC调试 · L4")
    got = engineers(server)
    assert got["E901"]["skills"] == {"PLC调试": 4, "电气": 2} and got["E902"]["team"] == "杭州组"
    page.locator(".el-message").first.wait_for(state="hidden")
    shots(page, "engineers-imported", docs="engineers")
    assert not page.errors


def test_designer_reorder_default_and_help(page: Any, server: Server, shots: Shots) -> None:
    ensure_designed_form(server)
    before = [f["key"] for f in server.get("/api/lines/repair/form")["fields"]]
    page.goto("/admin/designer")
    canvas = page.locator("[data-test=canvas]")
    canvas.locator("[data-test=field-downtime_hours]").wait_for()

    # reorder: 停机时长 one up, above 紧急程度
    page.locator("[data-test=up-downtime_hours]").click()
    keys = [k.removeprefix("field-") for k in
            canvas.locator("[data-test^=field-]").evaluate_all("els => els.map(e => e.dataset.test)")]
    i = keys.index("downtime_hours")
    assert keys[i + 1] == "urgency"

    # a default and a help text for 紧急程度, seen at once in the preview
    canvas.locator("[data-test=field-urgency]").click()
    page.locator("#tab-props").click()
    pick(page, page.locator("[data-test=prop-default]"), "紧急")
    page.locator("input[data-test=prop-help]").fill("按对生产的影响选择")
    # and for the number field: a default of 1
    canvas.locator("[data-test=field-downtime_hours]").click()
    page.locator("[data-test=prop-default] input").fill("1")
    page.locator("input[data-test=prop-help]").click()  # leave the number input
    shots(page, "designer-default-help", docs="designer-default-help")
    page.locator("#tab-preview").click()
    preview = page.locator("[data-test=preview-urgency]")
    expect(preview).to_contain_text("按对生产的影响选择")
    expect(preview.locator(".el-select")).to_contain_text("紧急")
    expect(page.locator("[data-test=preview-downtime_hours] input")).to_have_value("1")
    shots(page, "designer-preview", docs="designer-preview")

    with page.expect_response(lambda r: r.url.endswith("/api/lines/repair/form")
                              and r.request.method == "PUT") as saved:
        page.locator("[data-test=save-form]").click()
    assert saved.value.status == 200, saved.value.text()
    form = server.get("/api/lines/repair/form")
    after = [f["key"] for f in form["fields"]]
    assert sorted(after) == sorted(before)
    assert after.index("downtime_hours") + 1 == after.index("urgency")
    by_key = {f["key"]: f for f in form["fields"]}
    assert by_key["urgency"]["default"] == "紧急"
    assert by_key["urgency"]["help"] == "按对生产的影响选择"
    assert by_key["downtime_hours"]["default"] == 1
    assert {f["key"] for f in NEW_FIELDS} <= set(by_key)
    assert not page.errors


PAGES = {
    "login": "[data-test=sign-in]",
    "designer": "[data-test=canvas] [data-test^=field-]",
    "rules": "[data-test=rules-editor] .cm-line",
    "dry-run": "[data-test=run-dry]",
    "board": "[data-test=col-新建]",
    "engineers": "[data-test=engineer-table] .el-table__row",
}


@pytest.mark.parametrize("name", list(PAGES))
def test_no_horizontal_overflow_at_1366x768(browser: Any, server: Server, shots: Shots,
                                            name: str) -> None:
    page = open_page(browser, server, viewport=DESKTOP, signed_in=name != "login")
    try:
        page.goto(f"/admin/{name}")
        page.locator(PAGES[name]).first.wait_for()
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        shots(page, f"1366-{name}")
        assert width <= DESKTOP["width"], f"{name} is {width}px wide"
        body = page.evaluate("document.body.scrollWidth")
        assert body <= DESKTOP["width"], f"{name}'s body is {body}px wide"
        assert re.search(rf"/admin/{name}", page.url)
        assert not page.errors
    finally:
        page.context.close()


def test_board_loads_more_than_a_page(page: Any, server: Server, shots: Shots) -> None:
    """More tickets than the board's first page (100): the count says so, each column says
    how many of its tickets are shown, and 加载更多 brings the rest."""
    have = server.get("/api/tickets", params={"line": "repair", "count": "true",
                                              "limit": 1})["total"]
    ensure_designed_form(server)  # its 联系人 is required
    for i in range(max(0, 112 - have)):
        body = demo_ticket(2000 + i, title=f"批量工单 #{i}", description="例行保养", onsite=False,
                           customer_name="周经理")
        body.pop("address")
        server.post("/api/lines/repair/tickets", body, status=201)
    total = server.get("/api/tickets", params={"line": "repair", "count": "true",
                                               "limit": 1})["total"]
    assert total > 100
    in_new = server.get("/api/tickets", params={"line": "repair", "state": "新建",
                                                "count": "true", "limit": 1})["total"]
    newest = {t["number"] for t in server.get("/api/tickets", params={
        "line": "repair", "limit": 100})["items"]}

    page.goto("/admin/board")
    board_settles(page, newest)
    expect(page.locator("[data-test=shown-count]")).to_have_text(f"已显示 100 / 共 {total} 张")
    shown_new = page.locator("[data-test=col-新建] [data-test^=card-]").count()
    assert shown_new < in_new
    expect(page.locator("[data-test=count-新建]")).to_contain_text(f"{shown_new}/{in_new}")
    shots(page, "board-paged", docs="board-paged")

    page.locator("[data-test=load-more]").click()
    board_settles(page, numbers(server))
    expect(page.locator("[data-test=shown-count]")).to_have_text(f"已显示 {total} / 共 {total} 张")
    expect(page.locator("[data-test=load-more]")).to_have_count(0)
    expect(page.locator("[data-test=count-新建]")).to_have_text(str(in_new))
    assert not page.errors


def test_dry_run_a_ticket_filled_by_hand(page: Any, server: Server, shots: Shots) -> None:
    """A past ticket copied into the form, changed by hand (停机 in the description), dry-run:
    the page shows the tier the server gives that body, not the stored ticket's."""
    found = server.get("/api/tickets", params={"line": "repair", "q": "注塑机故障 #1"})["items"]
    ticket = next(t for t in found if t["fields"]["title"] == "3号线注塑机故障 #1")
    changed = {**ticket["fields"], "description": "注塑机停机，无法启动"}
    expected = server.post("/api/lines/repair/dry-run", {"ticket": changed})
    assert ticket["sla"]["tier"] == "P1" and expected["sla"]["tier"] == "P0"

    page.goto("/admin/dry-run")
    page.locator("[data-test=pick-ticket]").click()
    page.keyboard.type("注塑机故障 #1")
    page.locator(".el-select-dropdown__item:visible", has_text=ticket["number"]).click()
    page.locator("[data-test=edit-copy]").click()
    description = page.locator("[data-test=preview-description] textarea, "
                               "[data-test=preview-description] input").first
    expect(description).to_have_value(ticket["fields"]["description"])
    description.fill("注塑机停机，无法启动")
    page.locator("[data-test=run-dry]").click()
    expect(page.locator("[data-test=dry-tier]")).to_contain_text("P0")
    expect(page.locator("[data-test=dry-tier]")).to_contain_text(expected["sla"]["label"])
    if expected["sla"].get("why") or expected["sla"].get("why_zh"):
        expect(page.locator("[data-test=dry-why]")).not_to_be_empty()
    route = expected["route"]
    if route:
        table = page.locator("[data-test=dispatch-table]")
        for c in route["candidates"]:
            expect(table.locator(f"[data-test=cand-{c['engineer_id']}]")).to_be_visible()
    shots(page, "dry-run-by-hand", docs="dry-run-by-hand")
    assert not page.errors
