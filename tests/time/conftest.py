"""Fixtures for the time engine: the app with its background loops OFF (tests tick the
scheduler and the outbox worker themselves) and the injectable clock reset after each test."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gongdan.app import create_app
from gongdan.connectors import DeliveryReceipt, OutgoingMessage
from gongdan.demo import repair_rules_source
from gongdan.domain.users.services import create_token, ensure_user
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.timers import clock
from tests.platform.conftest import Api, db_url, make_repair_line

__all__ = ["db_url"]


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    clock.set_offset(dt.timedelta(0))
    yield
    clock.set_offset(dt.timedelta(0))


class TimeApi(Api):
    """An admin client plus the app's database and settings.

    The app (and its PostgreSQL pool) lives in the test client's portal thread: direct
    calls into the database go through `run()`, which runs a coroutine function there."""

    db: Database
    settings: Settings

    async def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        portal = self.client.blocking_portal
        return await asyncio.to_thread(portal.call, fn, *args)


def _forget_compiled_rules() -> None:
    """Compiled rulesets are cached per (line, version) for the process; every test database
    has its own `repair` v1, so forget what an earlier test compiled."""
    from gongdan import rules_runtime
    from gongdan.domain.tickets import services

    rules_runtime._CACHE.clear()
    services._RULES_SOURCES.clear()
    services._FORMS.clear()


@pytest.fixture
async def tapi(db_url: str) -> AsyncIterator[TimeApi]:
    _forget_compiled_rules()
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False)
    db = Database(settings)
    await db.open(migrate=True, pool=False)
    await ensure_user("admin", "admin")
    await ensure_user("supervisor", "supervisor")
    token = await create_token("admin")
    await db.close()
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        api = TimeApi(client, token)
        api.db = app.state["db"]
        api.settings = settings
        yield api


class FakeSender:
    """Records messages; `fail` decides per call (an exception to raise, or None)."""

    def __init__(self, channels: tuple[str, ...] = ("log", "sms", "wecom", "voice")) -> None:
        self.sent: list[OutgoingMessage] = []
        self.calls = 0
        self.fail: Any = None
        self._channels = list(channels)

    @property
    def channels(self) -> list[str]:
        return self._channels

    async def asend(self, message: OutgoingMessage) -> DeliveryReceipt:
        self.calls += 1
        exc = self.fail(message) if callable(self.fail) else self.fail
        if exc is not None:
            raise exc
        self.sent.append(message)
        return DeliveryReceipt(channel=message.channel)


LOG_RULES = repair_rules_source().replace("via wecom", "via log").replace("via voice", "via log") \
    .replace("via sms", "via log")


async def repair_line_with_rules(api: Api, source: str = LOG_RULES) -> None:
    """The demo repair line with its ruleset (channels switched to `log`) active."""
    await make_repair_line(api)
    r = await api.put("/api/lines/repair/rules", {"source": source})
    assert r.status_code == 201, r.text
    r = await api.post(f"/api/lines/repair/rules/{r.json()['version']}/activate")
    assert r.status_code in (200, 201), r.text
