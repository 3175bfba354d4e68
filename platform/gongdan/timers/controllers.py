"""HTTP: the timer table for admins (`GET /api/timers?state=pending&ticket=12`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from gongdan.auth import allowed
from gongdan.errors import FieldError, invalid
from gongdan.store.tables import GdTimer

STATES = ("pending", "fired", "skipped", "cancelled")


def _iso(v: Any) -> str | None:
    return v.isoformat(timespec="seconds") if isinstance(v, dt.datetime) else None


class TimersController(Controller):
    """Durable timers: what is armed, what fired (and where), what was cancelled."""

    path = "/api/timers"
    tags = ["timers"]  # noqa: RUF012
    guards = [allowed("outbox.manage")]  # noqa: RUF012

    @get("/")
    async def list_timers(
        self, state_: Annotated[str | None, QueryParameter(name="state")] = None,
        ticket: FromQuery[int | None] = None, kind: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> dict:
        """Timers, earliest due first, with a count per state for the same filters and who
        holds the SQLite background lease (`lease`, null on PostgreSQL)."""
        if state_ is not None and state_ not in STATES:
            raise invalid(f"状态 {state_!r} 无效", f"invalid state {state_!r}",
                          [FieldError(key="state", message_zh=f"可用：{'、'.join(STATES)}",
                                      message_en=f"use one of {', '.join(STATES)}")])
        conds: list[Any] = []
        if ticket is not None:
            conds.append(GdTimer.ticket_id == ticket)
        if kind:
            conds.append(GdTimer.kind == kind)
        counts: dict[str, int] = {}
        for s in STATES:
            counts[s] = await GdTimer.count().where(*conds, GdTimer.state == s) if conds \
                else await GdTimer.count().where(GdTimer.state == s)
        query = GdTimer.select().order_by(GdTimer.due_at).limit(max(1, min(limit, 1000)))
        where = [*conds, *([GdTimer.state == state_] if state_ else [])]
        if where:
            query = query.where(*where)
        rows = await query.output(load_json=True)
        from gongdan.timers.lease import current

        return {"counts": counts, "lease": await current(), "items": [
            {"id": r["id"], "kind": r["kind"], "ticket_id": r["ticket_id"], "state": r["state"],
             "due_at": _iso(r["due_at"]), "fired_at": _iso(r["fired_at"]), "owner": r["owner"],
             "payload": r["payload"]} for r in rows]}
