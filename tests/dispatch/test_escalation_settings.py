"""An escalation the HTTP reoffer triggers uses the app's Settings (the object given to
`create_app`), not the `GONGDAN_*` environment: its notice goes out on the app's
`timer_channel`, rendered from the app's override folder, with the app's public URL. The
timer-driven path keeps the scheduler's settings (tests/dispatch/test_dispatch_time.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from gongdan import rules_runtime
from gongdan.app import create_app
from gongdan.demo import demo_ticket
from gongdan.domain.users.services import create_token, ensure_user
from gongdan.settings import Settings
from gongdan.store.engine import Database
from tests.dispatch.conftest import dispatch_line
from tests.platform.conftest import Api
from tests.time.conftest import _forget_compiled_rules

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

PUBLIC = "https://app-settings.example.com"


@pytest.fixture
async def app_api(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[Api]:
    for name in ("GONGDAN_TIMER_CHANNEL", "GONGDAN_TEMPLATES_DIR", "GONGDAN_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)  # the defaults, were anything read from there
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "超时升级.j2").write_text(
        '{% extends "default:超时升级" %}{% block zh %}【应用设置】{{ super() }}{% endblock %}',
        encoding="utf-8")
    _forget_compiled_rules()
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False,
                        timer_channel="webhook", templates_dir=str(overrides), public_url=PUBLIC)
    db = Database(settings)
    await db.open(migrate=True, pool=False)
    await ensure_user("admin", "admin")
    token = await create_token("admin")
    await db.close()
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield Api(client, token)


async def test_an_http_reoffer_escalation_uses_the_apps_settings(app_api: Api) -> None:
    api = app_api
    await dispatch_line(api)
    r = await api.post("/api/lines/dispatch/tickets", demo_ticket(1))
    assert r.status_code == 201, r.text
    t = r.json()
    for _ in range(3):  # after 2 reoffers the pool escalates
        r = await api.post(f"/api/tickets/{t['id']}/reoffer", {"channel": "app"})
        assert r.status_code == 200, r.text
    assert r.json()["escalated"] is True
    msgs = (await api.get("/api/outbox", params={"ticket": t["id"]})).json()["items"]
    (m,) = [m for m in msgs if m["kind"] == "escalation"]
    assert m["channel"] == "webhook"  # the app's timer_channel, not the default `log`
    assert m["text"].startswith("【应用设置】"), m["text"]  # the app's override folder
    assert f"{PUBLIC}/admin/board?q={t['number']}" in m["text"]  # the app's public URL
