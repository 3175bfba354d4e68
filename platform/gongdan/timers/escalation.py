"""Who an escalation goes to: one helper for SLA breaches (`timers.scheduler`) and for
dispatch's escalation after too many reoffers (`domain.dispatch.services._escalate`).

The order: the supervisor of the assignee (`gd_engineer.supervisor`; for a ticket nobody
holds yet, of the engineers it was offered to, in offer order); when none of them has one,
the line's configured escalation target (the `escalate <target>` of the pool that routed
the ticket, from its last dispatch decision); when there is none either, every active
admin.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from gongdan.store.tables import GdDispatchDecision, GdEngineer, GdUser


async def supervisor_of(engineers: Iterable[Any]) -> str | None:
    """The supervisor of the first of `engineers` (keys, in order) that has one."""
    for key in engineers:
        if not key:
            continue
        rows = await GdEngineer.select(GdEngineer.supervisor).where(GdEngineer.key == str(key))
        if rows and rows[0]["supervisor"]:
            return str(rows[0]["supervisor"])
    return None


async def _last_decision(ticket_id: int) -> dict[str, Any]:
    rows = await GdDispatchDecision.select(GdDispatchDecision.decision).where(
        GdDispatchDecision.ticket_id == ticket_id).order_by(
        GdDispatchDecision.id, ascending=False).limit(1)
    if not rows:
        return {}
    d = rows[0]["decision"]
    return (json.loads(d) if isinstance(d, str) else d) or {}


def _target_address(target: dict[str, Any]) -> str | None:
    kind, name = target.get("kind"), target.get("name")
    if kind == "role" and name:
        return f"role:{name}"
    if kind in ("person", "user", "engineer") and name:
        return str(name)
    return None  # `supervisor` (already looked for) or unknown


async def admins() -> list[str]:
    """Every active admin's user name."""
    rows = await GdUser.select(GdUser.name).where(
        (GdUser.role == "admin") & (GdUser.active == True)  # noqa: E712
    ).order_by(GdUser.name)
    return [str(r["name"]) for r in rows]


async def recipients(ticket: dict[str, Any]) -> tuple[list[str], str]:
    """(who to notify, why: `supervisor` | `line_target` | `admins`) for an escalation of
    `ticket` (a `gd_ticket` row)."""
    decision = await _last_decision(int(ticket["id"]))
    offered = [*decision.get("offered", []),
               *[c.get("engineer_id") for c in decision.get("candidates", [])
                 if c.get("rank") is not None]]
    person = await supervisor_of([ticket.get("assignee"), *offered])
    if person:
        return [person], "supervisor"
    target = decision.get("escalate_to")
    if isinstance(target, dict) and (address := _target_address(target)):
        return [address], "line_target"
    return await admins(), "admins"
