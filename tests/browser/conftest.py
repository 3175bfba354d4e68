"""Browser tests: headless Chromium (Debian's, through Playwright) against a REAL server.

One `gongdan serve` process for the whole session, on SQLite in a tmp dir, with the demo
repair line (`gongdan demo load`) and the admin UI build at `/admin`. The demo engineers get
a full dispatch profile (skills, load, max_load, on_shift, location) through the users API.

Every page a test visits is saved as a PNG in `test-artifacts/browser/`; with
`GONGDAN_UPDATE_SCREENSHOTS=1` a curated few are also written to `docs/img/admin/` for
docs/admin.md (normal runs never rewrite tracked files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.platform.conftest import stop, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
UI_DIST = Path(os.environ.get("GONGDAN_ADMIN_UI_DIR") or ROOT / "admin-ui" / "dist")
CHROMIUM = os.environ.get("GONGDAN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOCS_IMG = ROOT / "docs" / "img" / "admin"
UPDATE_DOCS = os.environ.get("GONGDAN_UPDATE_SCREENSHOTS") == "1"
# `make test` sets this: there a missing browser or UI build is a failure, not a skip.
REQUIRED = os.environ.get("GONGDAN_REQUIRE_BROWSER") == "1"

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

# Dispatch profiles for the demo engineers: all on shift and within 5 km of the demo
# tickets' location (31.2304, 121.4737), so the on-site pool ranks them by score.
ENGINEER_PROFILES: dict[str, tuple[str, dict[str, Any]]] = {
    "wang": ("王工", {"skills": {"PLC调试": 5, "电气": 4, "液压": 3}, "load": 1, "max_load": 5,
                      "on_shift": True, "team": "上海一组", "region": "310101",
                      "location": {"lat": 31.2320, "lon": 121.4760}}),
    "li": ("李工", {"skills": {"液压": 5, "机械": 3}, "load": 1, "max_load": 4, "on_shift": True,
                    "team": "上海一组", "region": "310101",
                    "location": {"lat": 31.2400, "lon": 121.4800}}),
    "zhang": ("张工", {"skills": {"PLC调试": 3, "机械": 5}, "load": 0, "max_load": 6,
                       "on_shift": True, "team": "苏州组", "region": "310101",
                       "location": {"lat": 31.2290, "lon": 121.4700}}),
}


def _missing(what: str) -> None:
    if REQUIRED:
        pytest.fail(what)
    pytest.skip(what)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gongdan(*args: str) -> list[str]:
    return [sys.executable, "-c", "from gongdan.cli import main; main()", *args]


class Server:
    """The running server: its URL, an admin token and an HTTP client for API checks."""

    def __init__(self, url: str, token: str, password: str) -> None:
        self.url = url
        self.token = token
        self.password = password  # admin's, as `gongdan demo load` printed it
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30)

    def get(self, path: str, **kw: Any) -> Any:
        r = self.http.get(path, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: Any, status: int = 200) -> Any:
        r = self.http.post(path, json=body)
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (UI_DIST / "index.html").is_file():
        _missing(f"the admin UI is not built ({UI_DIST}); run `make ui`")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's screenshots only
    tmp = tmp_path_factory.mktemp("browser-server")
    env = {**os.environ, "GONGDAN_DATABASE_URL": f"sqlite:///{tmp}/gongdan.db",
           "GONGDAN_ADMIN_UI_DIR": str(UI_DIST), "GONGDAN_LOG_LEVEL": "warning"}
    out = subprocess.run(_gongdan("demo", "load"), env=env, check=True, capture_output=True,
                         text=True, timeout=120)
    token = out.stdout.strip().rsplit(" ", 1)[-1]
    said = re.search(r"sign-in password: (\S+)", out.stdout)
    assert said, out.stdout
    port = _free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(_gongdan("serve", "--host", "127.0.0.1", "--port", str(port),
                                     "--workers", "1"),
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    srv: Server | None = None
    try:
        wait_healthy(proc, url, tmp / "server.log")
        srv = Server(url, token, said.group(1))
        for name, (display, profile) in ENGINEER_PROFILES.items():
            srv.post("/api/users", {"name": name, "role": "engineer", "display_name": display,
                                    "profile": profile}, status=201)
        yield srv
    finally:
        if srv is not None:
            srv.http.close()
        stop(proc)
        log.close()


# Module scope, not session: sync Playwright runs its own event loop, which must be gone
# before the async tests of other folders run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM}; run .ci/ensure-chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Shots:
    """Saves a screenshot per page visited: test-artifacts/browser/<test>-<n>-<name>.png."""

    def __init__(self, test: str) -> None:
        self.test = re.sub(r"[^A-Za-z0-9_.-]+", "_", test)
        self.n = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, name: str, *, docs: str | None = None,
                 full_page: bool = False) -> Path:
        """Screenshot `page`; `docs` names the copy in docs/img/admin/ (written only when
        GONGDAN_UPDATE_SCREENSHOTS=1)."""
        self.n += 1
        path = ARTIFACTS / f"{self.test}-{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        if docs and UPDATE_DOCS:
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMG / f"{docs}.png")
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


def open_page(browser: Any, server: Server, viewport: dict[str, int] = DESKTOP,
              signed_in: bool = True, **context: Any) -> Any:
    """A new page, signed in (the admin token in localStorage), Chinese UI, repair line."""
    ctx = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                              base_url=server.url, **context)
    if signed_in:
        ctx.add_init_script(f"localStorage.setItem('gongdan.token', {json.dumps(server.token)});"
                            "localStorage.setItem('gongdan.line', 'repair');")
    ctx.set_default_timeout(15_000)
    # `expect` has its own default (5 s): too tight on a busy 2-core machine
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # uncaught exceptions in the page, checked by the tests
    return page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, server: Server) -> Iterator[Any]:
    pg = open_page(browser, server)
    yield pg
    if request.node.stash.get(_FAILED, False):
        # what the page showed when the test failed, and the page's own errors
        Shots(request.node.name)(pg, "FAILED", full_page=True)
        (ARTIFACTS / f"{Shots(request.node.name).test}-FAILED.txt").write_text(
            "\n".join(pg.errors), encoding="utf-8")
    pg.context.close()
