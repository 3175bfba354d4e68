"""HTTP: tickets, their events, moves and timeline; customer history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from gongdan.auth import allowed
from gongdan.domain.tickets import services
from gongdan.errors import FieldError, invalid


class PatchIn(msgspec.Struct, kw_only=True):
    """Field changes at a version; `assignee` (dispatchers) assigns the ticket."""

    version: int
    fields: dict[str, Any] = {}
    assignee: str | msgspec.UnsetType | None = msgspec.UNSET
    channel: str = "api"


class MoveIn(msgspec.Struct, kw_only=True):
    """A manual move to state `to` at a version."""

    to: str
    version: int
    channel: str = "app"
    note: str | None = None


def _ctx(request: Request[Any, Any, Any]) -> tuple[Any, Any]:
    return request.app.state.db, request.app.state.settings


def _when(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise invalid(f"{name} 应为带时区的 ISO 8601 时间", f"{name} must be ISO 8601 with a zone",
                      [FieldError(key=name, message_zh="时间格式错误", message_en="bad time")])
    return parsed


class TicketsController(Controller):
    """Tickets."""

    path = "/api"
    tags = ["tickets"]  # noqa: RUF012

    @post("/lines/{line:str}/tickets", guards=[allowed("tickets.create")])
    async def create(
        self, request: Request[Any, Any, Any], line: FromPath[str],
        data: JSONBody[dict[str, Any]],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
        channel: FromQuery[str] = "api",
    ) -> Response[dict]:
        """Create a ticket: validate, classify, number, store. Honours `Idempotency-Key`."""
        db, settings = _ctx(request)
        ticket, created = await services.create_ticket(
            db, settings, line, data, request.user, channel, idempotency_key
        )
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return Response(ticket, status_code=201, headers=headers)

    @get("/tickets/{ticket_id:int}", guards=[allowed("tickets.read")])
    async def get_one(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> dict:
        """One ticket."""
        return await services.get_ticket(request.app.state.settings, ticket_id, request.user)

    @get("/tickets", guards=[allowed("tickets.read")])
    async def list_all(
        self, request: Request[Any, Any, Any],
        line: FromQuery[str | None] = None,
        state_: Annotated[str | None, QueryParameter(name="state")] = None,
        tier: FromQuery[str | None] = None, assignee: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None, created_from: FromQuery[str | None] = None,
        created_to: FromQuery[str | None] = None, limit: FromQuery[int] = 50,
        offset: FromQuery[int] = 0, overdue: FromQuery[bool] = False,
        count: FromQuery[bool] = False,
    ) -> dict:
        """Tickets by line, state, tier, assignee, creation time range, free text and
        overdue; `limit` (at most 500) and `offset` page them, `count=true` adds `total`."""
        if limit < 1 or offset < 0:
            raise invalid("limit 至少为 1，offset 不能为负", "limit must be >= 1, offset >= 0",
                          [FieldError(key="limit" if limit < 1 else "offset",
                                      message_zh="超出范围", message_en="out of range")])
        return await services.list_tickets(
            request.app.state.settings, request.user, line=line, state=state_, tier=tier,
            assignee=assignee, q=q, created_from=_when("created_from", created_from),
            created_to=_when("created_to", created_to), limit=limit, offset=offset,
            overdue=overdue, count=count,
        )

    @patch("/tickets/{ticket_id:int}", guards=[allowed("tickets.update")])
    async def update(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                     data: JSONBody[PatchIn]) -> dict:
        """Change fields at a version (409 when stale)."""
        db, settings = _ctx(request)
        assignee: Any = ... if data.assignee is msgspec.UNSET else data.assignee
        return await services.update_ticket(db, settings, ticket_id, data.version, data.fields,
                                            request.user, assignee=assignee, channel=data.channel)

    @post("/tickets/{ticket_id:int}/events", guards=[allowed("tickets.event")], status_code=200)
    async def event(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                    data: JSONBody[dict[str, Any]]) -> dict:
        """Record an event; the active ruleset's `on` triggers may move the ticket."""
        db, settings = _ctx(request)
        return await services.post_event(db, settings, ticket_id, data, request.user)

    @post("/tickets/{ticket_id:int}/move", guards=[allowed("tickets.move")], status_code=200)
    async def move(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                   data: JSONBody[MoveIn]) -> dict:
        """A manual move, checked by the state machine and the close lock."""
        db, settings = _ctx(request)
        return await services.move_ticket(db, settings, ticket_id, data.to, data.version,
                                          request.user, data.channel, data.note)

    @get("/tickets/{ticket_id:int}/timeline", guards=[allowed("tickets.read")])
    async def timeline(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> dict:
        """The ticket's append-only record."""
        return await services.timeline(request.app.state.settings, ticket_id, request.user)

    @get("/customers/{phone:str}/tickets", guards=[allowed("customers.read")])
    async def customer(self, request: Request[Any, Any, Any], phone: FromPath[str],
                       limit: FromQuery[int] = 100) -> dict:
        """A customer's whole history by phone number, newest first."""
        return await services.list_tickets(request.app.state.settings, request.user,
                                           phone=phone, limit=limit)
