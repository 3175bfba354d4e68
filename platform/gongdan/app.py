"""The Litestar application, wired in one place: `create_app()`."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar, MediaType, Response, get
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath
from litestar.response import File

from gongdan import __version__, plugins
from gongdan.auth import TokenAuthMiddleware
from gongdan.domain.calendars.controllers import CalendarsController
from gongdan.domain.callbacks.controllers import ApprovalsController, CallbacksController
from gongdan.domain.dispatch.controllers import DispatchController
from gongdan.domain.engineers.controllers import EngineersController
from gongdan.domain.lines.controllers import LinesController, get_field_dictionary
from gongdan.domain.org.controllers import OrgController
from gongdan.domain.reports.controllers import ReportsController
from gongdan.domain.survey.controllers import SurveyController
from gongdan.domain.tickets.controllers import TicketsController
from gongdan.domain.tickets.services import clear_caches
from gongdan.domain.users.controllers import UsersController
from gongdan.errors import exception_handlers
from gongdan.outbox.controllers import OutboxController
from gongdan.packs_api import PacksController
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.timers import background
from gongdan.timers.controllers import TimersController


def admin_ui_dir(settings: Settings) -> Path:
    """Where the admin UI's build is (see `GONGDAN_ADMIN_UI_DIR`)."""
    if settings.admin_ui_dir:
        return Path(settings.admin_ui_dir)
    return Path(__file__).resolve().parents[2] / "admin-ui" / "dist"


def admin_ui_handlers(settings: Settings) -> list[Any]:
    """`/admin`: the built single-page app (deep links fall back to its index.html), or a
    page that says how to build it."""
    folder = admin_ui_dir(settings).resolve()

    @get("/admin", include_in_schema=False)
    async def admin_ui_root() -> File | Response[str]:
        return serve("")

    @get("/admin/{path:path}", include_in_schema=False)
    async def admin_ui(path: FromPath[str]) -> File | Response[str]:
        return serve(path)

    def serve(path: str) -> File | Response[str]:
        index = folder / "index.html"
        if not index.is_file():
            return Response(
                "<p>管理界面尚未构建：请运行 <code>make ui</code>。</p>"
                "<p>The admin UI is not built yet: run <code>make ui</code>.</p>",
                status_code=503, media_type=MediaType.HTML,
            )
        target = (folder / path.lstrip("/")).resolve()
        if path.strip("/") and target.is_file() and folder in target.parents:
            media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if target.suffix in (".js", ".mjs"):
                media_type = "text/javascript"  # module scripts need it; some systems map .js oddly
            return File(target, filename=target.name, content_disposition_type="inline", media_type=media_type)
        return File(index, content_disposition_type="inline", media_type=MediaType.HTML)

    return [admin_ui_root, admin_ui]


@get("/health", tags=["meta"])
async def health() -> dict:
    """Liveness: answers without a token."""
    return {"ok": True, "version": __version__}


def create_app(settings: Settings | None = None,
               plugin_manager: plugins.GongdanPluginManager | None = None) -> Litestar:
    """The app for `settings` (default: read from `GONGDAN_*` environment variables).

    The plugins load here (`plugin_manager`, default: the entry points allowed by
    `GONGDAN_LOAD_PLUGINS`): a misspelt hook or a plugin that fails to import stops the
    server at start-up with `plugins.PluginLoadError` naming it."""
    settings = settings or Settings.from_env()
    ZoneInfo(settings.timezone)  # a misspelt GONGDAN_TIMEZONE fails at start, not per request
    if plugin_manager is not None:
        plugins.set_plugin_manager(plugin_manager)
    plugins.check_plugins(plugin_manager)
    db = Database(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # the PostgreSQL pool belongs to this event loop, so it is made here
        clear_caches()  # caches are per database; this process may have used another
        await db.open(migrate=settings.auto_migrate)
        try:
            async with background.running(db, settings):
                yield
        finally:
            plugins.close_cached()
            await db.close()

    class Auth(TokenAuthMiddleware):
        cache_seconds = settings.token_cache_seconds
        _cache: dict[str, Any] = {}  # noqa: RUF012

    return Litestar(
        route_handlers=[health, LinesController, TicketsController, UsersController,
                        EngineersController, DispatchController, OutboxController, TimersController,
                        CalendarsController, PacksController, CallbacksController,
                        ApprovalsController, OrgController, ReportsController, SurveyController,
                        get_field_dictionary, *admin_ui_handlers(settings)],
        lifespan=[lifespan],
        state=State({"db": db, "settings": settings}),
        middleware=[DefineMiddleware(Auth, exclude=["^/schema", "^/health$", "^/admin",
                                                      "^/api/callbacks/", "^/survey/"])],
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(title="gongdan (工单)", version=__version__,
                                     path="/schema"),
        debug=settings.debug,
        # leave the root logger alone: logging is the host's (uvicorn's) to configure
        logging_config=LoggingConfig(configure_root_logger=False, log_exceptions="never"),
    )
