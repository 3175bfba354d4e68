"""The messages' ticket links (`/admin/board?q=<number>`) open the board filtered to that
ticket with its detail drawer open; `state` and `line` in the link set those filters too."""

from __future__ import annotations

from typing import Any

from gongdan.demo import demo_ticket
from tests.browser.conftest import Server, Shots
from tests.browser.test_admin_flows import ensure_designed_form


def new_ticket(server: Server, i: int) -> dict:
    ensure_designed_form(server)  # the session's form has a required 联系人
    return server.post("/api/lines/repair/tickets", demo_ticket(i, customer_name="钱经理"),
                       status=201)


def test_a_message_link_opens_the_tickets_drawer(page: Any, server: Server,
                                                 shots: Shots) -> None:
    mine = new_ticket(server, 41)
    other = new_ticket(server, 42)
    number = mine["number"]
    page.goto(f"/admin/board?q={number}&line=repair")
    drawer = page.locator("[data-test=ticket-drawer]")
    drawer.locator("[data-test=timeline]").wait_for()
    assert number in drawer.inner_text()
    assert page.locator("input[data-test=filter-q], [data-test=filter-q] input").first.input_value() == number
    page.locator(f"[data-test=card-{number}]").wait_for()
    assert page.locator(f"[data-test=card-{other['number']}]").count() == 0
    shots(page, "board-linked")
    assert not page.errors


def test_a_link_that_matches_no_single_number_opens_no_drawer(page: Any, server: Server) -> None:
    a = new_ticket(server, 43)
    prefix = a["number"].rsplit("-", 1)[0]  # the day's prefix: every ticket of the day
    page.goto(f"/admin/board?q={prefix}&state=新建")
    page.locator(f"[data-test=card-{a['number']}]").wait_for()
    assert page.locator("[data-test=filter-state]").inner_text().endswith("新建")
    # only 新建 tickets are listed
    assert page.locator("[data-test=col-已派单] [data-test^=card-]").count() == 0
    assert not page.locator("[data-test=ticket-drawer] [data-test=timeline]").is_visible()
    # closing the state tag lifts the filter
    page.locator("[data-test=filter-state] .el-tag__close").click()
    page.locator("[data-test=filter-state]").wait_for(state="detached")
    assert not page.errors
