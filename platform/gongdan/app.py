"""The Litestar application, wired in one place: `create_app()`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from gongdan import __version__
from gongdan.auth import TokenAuthMiddleware
from gongdan.domain.lines.controllers import LinesController, get_field_dictionary
from gongdan.domain.tickets.controllers import TicketsController
from gongdan.domain.users.controllers import UsersController
from gongdan.errors import exception_handlers
from gongdan.settings import Settings
from gongdan.store.engine import Database


@get("/health", tags=["meta"])
async def health() -> dict:
    """Liveness: answers without a token."""
    return {"ok": True, "version": __version__}


def create_app(settings: Settings | None = None) -> Litestar:
    """The app for `settings` (default: read from `GONGDAN_*` environment variables)."""
    settings = settings or Settings.from_env()
    db = Database(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # the PostgreSQL pool belongs to this event loop, so it is made here
        await db.open(migrate=settings.auto_migrate)
        try:
            yield
        finally:
            await db.close()

    class Auth(TokenAuthMiddleware):
        cache_seconds = settings.token_cache_seconds
        _cache: dict[str, Any] = {}  # noqa: RUF012

    logging.getLogger("gongdan").setLevel(settings.log_level.upper())
    return Litestar(
        route_handlers=[health, LinesController, TicketsController, UsersController,
                        get_field_dictionary],
        lifespan=[lifespan],
        state=State({"db": db, "settings": settings}),
        middleware=[DefineMiddleware(Auth, exclude=["^/schema", "^/health$"])],
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(title="gongdan (工单)", version=__version__,
                                     path="/schema"),
        debug=settings.debug,
    )
