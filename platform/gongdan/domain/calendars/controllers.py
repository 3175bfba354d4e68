"""HTTP: business calendars by name (`GET/PUT/DELETE /api/calendars/{name}`)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.params import FromPath, JSONBody

from gongdan.auth import allowed
from gongdan.domain.calendars import services


class CalendarsController(Controller):
    """Named business calendars (the format of `gongdan.calendars.Calendar.from_dict`)."""

    path = "/api/calendars"
    tags = ["calendars"]  # noqa: RUF012

    @get("/", guards=[allowed("calendars.read")])
    async def list_calendars(self) -> list[dict]:
        """Every calendar."""
        return await services.list_calendars()

    @get("/{name:str}", guards=[allowed("calendars.read")])
    async def get_calendar(self, name: FromPath[str]) -> dict:
        """One calendar by name."""
        return await services.get_calendar(name)

    @put("/{name:str}", guards=[allowed("calendars.write")])
    async def put_calendar(self, request: Request[Any, Any, Any], name: FromPath[str],
                           data: JSONBody[dict[str, Any]]) -> Response[dict]:
        """Create (201) or replace (200) a calendar; 422 names the bad key."""
        out, created = await services.put_calendar(
            request.app.state.db, name, data, request.user.name,
            request.app.state.settings.sla_warn_share)
        return Response(out, status_code=201 if created else 200)

    @delete("/{name:str}", guards=[allowed("calendars.write")], status_code=204)
    async def delete_calendar(self, request: Request[Any, Any, Any], name: FromPath[str]) -> None:
        """Delete a calendar."""
        await services.delete_calendar(request.app.state.db, name, request.user.name,
                                       request.app.state.settings.sla_warn_share)
