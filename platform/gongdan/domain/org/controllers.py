"""HTTP: org sync (`POST /api/org/{source}/sync`, admins) and the teams it writes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from gongdan.auth import allowed
from gongdan.domain.org import services


class SyncIn(msgspec.Struct, kw_only=True):
    """`dry_run`: compute and report the changes, write nothing."""

    dry_run: bool = False


class OrgController(Controller):
    """Org-chart sync from WeCom, DingTalk or any plugin's org source."""

    path = "/api"
    tags = ["org"]  # noqa: RUF012

    @post("/org/{source:str}/sync", guards=[allowed("org.sync")], status_code=200)
    async def sync(self, request: Request[Any, Any, Any], source: FromPath[str],
                   data: JSONBody[SyncIn | None] = None) -> dict:
        """Sync teams and people now; answers the summary."""
        return await services.sync(request.app.state.db, source,
                                   dry_run=bool(data and data.dry_run))

    @get("/org/{source:str}", guards=[allowed("org.sync")])
    async def last(self, source: FromPath[str]) -> dict:
        """The last sync's summary."""
        return await services.last_sync(source)

    @get("/teams", guards=[allowed("engineers.read")])
    async def teams(self, source: FromQuery[str | None] = None) -> dict:
        """Teams, with parent and manager."""
        return await services.list_teams(source)
