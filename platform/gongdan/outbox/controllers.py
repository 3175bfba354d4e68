"""HTTP: the outbox for admins (`GET /api/outbox?state=dead`, `POST /api/outbox/{id}/retry`)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from gongdan.auth import allowed
from gongdan.outbox import service


class OutboxController(Controller):
    """The outbox: see what was sent, what waits, what is dead; retry the dead."""

    path = "/api/outbox"
    tags = ["outbox"]  # noqa: RUF012
    guards = [allowed("outbox.manage")]  # noqa: RUF012

    @get("/")
    async def list_outbox(self, state_: Annotated[str | None, QueryParameter(name="state")] = None,
                          ticket: FromQuery[int | None] = None, limit: FromQuery[int] = 100,
                          offset: FromQuery[int] = 0) -> dict:
        """Messages, newest first; `state` is pending, sending, sent or dead."""
        return await service.list_messages(state_, ticket, limit, offset)

    @post("/{message_id:int}/retry", status_code=200)
    async def retry_message(self, message_id: FromPath[int]) -> dict:
        """Queue a dead message again (due now, attempts reset)."""
        return await service.retry(message_id)
