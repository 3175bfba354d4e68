"""HTTP: inbound callbacks (``/api/callbacks/{source}``, no token: the provider's
signature is the authentication) and the approvals recorded for tickets."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from gongdan.auth import allowed
from gongdan.domain.callbacks import services
from gongdan.hookspecs import InboundCallback
from gongdan.timers import clock

MAX_BODY = 1 << 20  # providers' callbacks are a few kilobytes


async def _inbound(request: Request[Any, Any, Any], source: str) -> InboundCallback:
    body = await request.body()
    if len(body) > MAX_BODY:
        from gongdan.errors import ApiError

        raise ApiError(413, "回调请求体过大", "callback body too large")
    return InboundCallback(
        path=source, method=request.method,
        query={k: str(v) for k, v in request.query_params.items()},
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body, received_at=clock.now(),
    )


async def _answer(request: Request[Any, Any, Any], source: str) -> Response[bytes]:
    state = request.app.state
    reply, _ = await services.receive(state.db, state.settings,
                                      await _inbound(request, source))
    return Response(content=reply.body, status_code=reply.status,
                    media_type=reply.content_type)


class CallbacksController(Controller):
    """Provider callbacks: WeCom and DingTalk approvals, Standard Webhooks."""

    path = "/api/callbacks"
    tags = ["callbacks"]  # noqa: RUF012

    @post("/{source:str}", status_code=200)
    async def callback_post(self, request: Request[Any, Any, Any],
                            source: FromPath[str]) -> Response[bytes]:
        """A provider's callback; answers what the provider expects (WeCom: `success`,
        DingTalk: its encrypted `success`)."""
        return await _answer(request, source)

    @get("/{source:str}")
    async def callback_get(self, request: Request[Any, Any, Any],
                           source: FromPath[str]) -> Response[bytes]:
        """URL verification (WeCom's `echostr`: answers the decrypted echo)."""
        return await _answer(request, source)


class ApprovalIn(msgspec.Struct, kw_only=True):
    """An approval started at a provider for this ticket."""

    source: str
    approval_id: str


class ApprovalsController(Controller):
    """Approvals recorded for tickets, so their callbacks find the ticket."""

    path = "/api/tickets/{ticket_id:int}/approvals"
    tags = ["callbacks"]  # noqa: RUF012

    @post("/", guards=[allowed("tickets.event")], status_code=201)
    async def record(self, request: Request[Any, Any, Any], ticket_id: FromPath[int],
                     data: JSONBody[ApprovalIn]) -> dict:
        """Record that approval `approval_id` at `source` was started for the ticket."""
        return await services.record_approval(request.app.state.db, ticket_id, data.source,
                                              data.approval_id, request.user.name)

    @get("/", guards=[allowed("tickets.read")])
    async def list_(self, ticket_id: FromPath[int]) -> dict:
        """The approvals recorded for the ticket."""
        return await services.list_approvals(ticket_id)
