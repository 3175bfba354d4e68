"""The customer's survey page in a phone-sized browser (390×844), against a real server
process whose clock is moved through `GONGDAN_CLOCK_FILE`: the demo line's ticket is closed,
the real scheduler archives it 48 h later and writes the survey message; the page its link
opens is filled in and the thank-you page shows. With GONGDAN_UPDATE_SCREENSHOTS=1 the form
is saved as docs/img/survey.png (docs/time.md)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    ARTIFACTS,
    CHROMIUM,
    PHONE,
    ROOT,
    UPDATE_DOCS,
    Shots,
    _free_port,
    _gongdan,
)
from tests.platform.conftest import stop, wait_healthy

DOCS_SHOT = ROOT / "docs" / "img" / "survey.png"


class Live:
    def __init__(self, url: str, token: str, clock_file: Path) -> None:
        self.url = url
        self.clock_file = clock_file
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30)

    def ok(self, r: httpx.Response, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`gongdan serve` on its own SQLite file with the demo data and a movable clock (the
    session's shared server keeps real time)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    tmp = tmp_path_factory.mktemp("survey-server")
    clock_file = tmp / "clock"
    clock_file.write_text("0")
    env = {**os.environ, "GONGDAN_DATABASE_URL": f"sqlite:///{tmp}/gongdan.db",
           "GONGDAN_LOG_LEVEL": "warning", "GONGDAN_CLOCK_FILE": str(clock_file),
           "GONGDAN_PUBLIC_URL": "https://gd.example.com"}
    out = subprocess.run(_gongdan("demo", "load"), env=env, check=True, capture_output=True,
                         text=True, timeout=120)
    token = out.stdout.strip().rsplit(" ", 1)[-1]
    port = _free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(_gongdan("serve", "--host", "127.0.0.1", "--port", str(port),
                                     "--workers", "1"),
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, tmp / "server.log")
        srv = Live(url, token, clock_file)
        yield srv
        srv.http.close()
    finally:
        stop(proc)
        log.close()


def _archived_survey_link(live: Live) -> tuple[dict, str]:
    from gongdan.demo import demo_ticket

    t = live.ok(live.http.post("/api/lines/repair/tickets", json=demo_ticket(3)), 201)
    for body in ({"type": "photo", "kind": "photo", "url": "x.jpg"},
                 {"type": "customer_signature", "signature": "sig"},
                 {"type": "root_cause", "text": "轴承磨损"}):
        live.ok(live.http.post(f"/api/tickets/{t['id']}/events", json=body))
    t = live.ok(live.http.get(f"/api/tickets/{t['id']}"))
    for to in ("已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案"):
        t = live.ok(live.http.post(f"/api/tickets/{t['id']}/move",
                                   json={"to": to, "version": t["version"]}))
    live.clock_file.write_text(str(49 * 3600))  # the demo line archives 48 h after 已结案
    deadline = time.monotonic() + 60
    while True:  # wait for the server's own scheduler to fire the archive timer
        items = live.ok(live.http.get("/api/outbox", params={"ticket": t["id"]}))["items"]
        surveys = [m for m in items if m["kind"] == "survey"]
        if surveys:
            break
        assert time.monotonic() < deadline, "the archive timer did not fire"
        time.sleep(0.3)
    found = re.search(r"https://gd\.example\.com(/survey/\S+\?token=[\w-]+)", surveys[0]["text"])
    assert found, surveys[0]["text"]
    return t, found.group(1)


def test_a_customer_answers_the_survey_on_a_phone(browser: Any, live: Live,
                                                   request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import expect

    t, link = _archived_survey_link(live)
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai",
                              base_url=live.url, is_mobile=True, has_touch=True,
                              device_scale_factor=1)
    ctx.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    shots = Shots(request.node.name)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        r = page.goto(link)
        assert r is not None and r.status == 200
        expect(page.get_by_test_id("number")).to_have_text(t["number"])
        expect(page.get_by_role("heading", level=1)).to_contain_text("满意度调研")
        # fits the phone: nothing wider than the viewport
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # submitting without a choice shows the errors in both languages (422)
        page.get_by_role("button", name=re.compile("提交")).click()
        expect(page.get_by_test_id("error-score")).to_contain_text("1 to 5")
        expect(page.get_by_test_id("error-solved")).to_contain_text("yes or no")
        page.goto(link)  # afresh, for the screenshot
        page.locator("label.choice", has_text="4").first.click()
        page.locator("label.choice", has_text="解决了").click()
        page.locator("#comment").fill("师傅来得很快，问题已解决")
        path = shots(page, "survey-form", full_page=True)
        if UPDATE_DOCS:
            shutil.copyfile(path, DOCS_SHOT)
        page.get_by_role("button", name=re.compile("提交")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("感谢您的评价")
        shots(page, "survey-thanks")
        assert not errors, errors
    finally:
        ctx.close()
    tl = live.ok(live.http.get(f"/api/tickets/{t['id']}/timeline"))["events"]
    (answer,) = [e for e in tl if e["type"] == "survey_answered"]
    assert answer["data"] == {"score": 4, "solved": True, "comment": "师傅来得很快，问题已解决",
                              "unsolved": False}
    assert ARTIFACTS.is_dir()
