"""HTTP: claim, decline, release, reoffer, reassign, transfer, and the dispatch explanation."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gongdan.auth import allowed
from gongdan.domain.dispatch import services
from gongdan.domain.engineers.services import MANAGERS
from gongdan.errors import not_found


class ClaimIn(msgspec.Struct, kw_only=True):
    """How the claim was made."""

    channel: str = "app"


class ReasonIn(msgspec.Struct, kw_only=True):
    """A reason (optional for decline and release)."""

    reason: str | None = None
    channel: str = "app"


class ReofferIn(msgspec.Struct, kw_only=True):
    """Who calls: the time engine (`timer`) or a dispatcher (`api`/`app`)."""

    channel: str = "api"


class ReassignIn(msgspec.Struct, kw_only=True):
    """Give the ticket to another engineer, with a reason."""

    engineer: str
    reason: str
    channel: str = "app"
    force: bool = False  # hand it to an engineer who is off shift


class TransferIn(msgspec.Struct, kw_only=True):
    """Hand the ticket to another team (optionally to one of its engineers), with a reason."""

    team: str
    reason: str
    engineer: str | None = None
    channel: str = "app"
    force: bool = False  # the named engineer may be off shift


_EMPTY_CLAIM = ClaimIn()


def _ctx(request: Request[Any, Any, Any]) -> tuple[Any, Any]:
    return request.app.state.db, request.app.state.settings


class DispatchController(Controller):
    """Dispatch."""

    path = "/api"
    tags = ["dispatch"]  # noqa: RUF012

    @post("/tickets/{ticket_id:int}/claim", guards=[allowed("tickets.claim")], status_code=200)
    async def claim(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                    data: JSONBody[ClaimIn | None] = None) -> dict:
        """Claim a ticket you were offered: the first claim wins, every other one gets 409."""
        db, settings = _ctx(request)
        return await services.claim(db, settings, ticket_id, request.user, (data or _EMPTY_CLAIM).channel)

    @post("/tickets/{ticket_id:int}/decline", guards=[allowed("tickets.claim")], status_code=200)
    async def decline(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                      data: JSONBody[ReasonIn | None] = None) -> dict:
        """Turn down an offer; with no live offer left the ticket is routed again."""
        db, settings = _ctx(request)
        body = data or ReasonIn()
        return await services.decline(db, settings, ticket_id, request.user, body.reason, body.channel)

    @post("/tickets/{ticket_id:int}/release", status_code=200,
          guards=[allowed("tickets.update")])
    async def release(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                      data: JSONBody[ReasonIn | None] = None) -> dict:
        """The assignee (or a dispatcher) puts the ticket back; it is routed to others."""
        db, settings = _ctx(request)
        body = data or ReasonIn()
        return await services.release(db, settings, ticket_id, request.user, body.reason, body.channel)

    @post("/tickets/{ticket_id:int}/reoffer", guards=[allowed("tickets.dispatch")], status_code=200)
    async def reoffer(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                      data: JSONBody[ReofferIn | None] = None) -> dict:
        """Offers timed out: offer the next candidates, or escalate after the pool's limit."""
        db, settings = _ctx(request)
        return await services.reoffer(db, settings, ticket_id, request.user.name,
                                      (data or ReofferIn()).channel)

    @post("/tickets/{ticket_id:int}/reassign", guards=[allowed("tickets.dispatch")], status_code=200)
    async def reassign(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                       data: JSONBody[ReassignIn]) -> dict:
        """Give the ticket to another engineer, with a reason."""
        db, settings = _ctx(request)
        return await services.reassign(db, settings, ticket_id, data.engineer, data.reason, request.user,
                                       data.channel, force=data.force)

    @post("/tickets/{ticket_id:int}/transfer", guards=[allowed("tickets.dispatch")], status_code=200)
    async def transfer(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                       data: JSONBody[TransferIn]) -> dict:
        """Hand the ticket to another team, with a reason."""
        db, settings = _ctx(request)
        return await services.transfer(db, settings, ticket_id, data.team, data.reason, request.user,
                                       data.channel, data.engineer, force=data.force)

    @get("/tickets/{ticket_id:int}/dispatch", guards=[allowed("dispatch.read")])
    async def explain(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                      why: FromQuery[str | None] = None,
                      not_: Annotated[str | None, QueryParameter(name="not")] = None) -> dict:
        """Every routing decision: each engineer, factor, score and rejecting require, in words."""
        return await services.dispatch_view(request.app.state.settings, ticket_id, why, not_)

    @get("/engineers/{engineer_id:str}/offers", guards=[allowed("engineers.read")])
    async def offers(self, request: Request[Any, Any, Any], engineer_id: FromPath[str]) -> dict:
        """An engineer's live offers (engineers: their own)."""
        user = request.user
        if user.role not in MANAGERS and user.name != engineer_id:
            raise not_found("工程师", "engineer", engineer_id)
        return {"items": await services.offers_for(request.app.state.settings, engineer_id)}
