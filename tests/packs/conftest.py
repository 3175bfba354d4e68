"""Fixtures for installing packs: the platform's fresh database per test (SQLite and
PostgreSQL), opened directly for the installer, or behind the app for the API tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gongdan.app import create_app
from gongdan.domain.tickets.services import clear_caches
from gongdan.settings import Settings
from gongdan.store.engine import Database
from tests.platform.conftest import Api, db_url, prepare_database

__all__ = ["db_url"]


def _forget_compiled_rules() -> None:
    """Compiled rulesets and forms are cached per (line, version) for the process; every test
    database has its own `repair` v1."""
    from gongdan import rules_runtime

    clear_caches()
    rules_runtime.clear_cache()


@dataclass
class Store:
    db: Database
    settings: Settings


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """A migrated, empty database, opened in this test's event loop."""
    _forget_compiled_rules()
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False)
    db = Database(settings)
    await db.open(migrate=True)
    try:
        yield Store(db, settings)
    finally:
        await db.close()


class AppApi(Api):
    """An admin client plus the app's database and settings; direct database calls go
    through `run()` (the app and its PostgreSQL pool live in the client's portal thread)."""

    db: Database
    settings: Settings

    async def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        portal = self.client.blocking_portal
        return await asyncio.to_thread(portal.call, fn, *args)


@pytest.fixture
async def papi(db_url: str) -> AsyncIterator[AppApi]:
    """The app on a fresh database, background loops off (tests run the outbox worker)."""
    _forget_compiled_rules()
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False)
    token = await prepare_database(settings)
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        api = AppApi(client, token)
        api.db = app.state["db"]
        api.settings = settings
        yield api
