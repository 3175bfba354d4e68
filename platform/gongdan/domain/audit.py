"""The administrative audit log (forms, states, rulesets, activation): append-only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gongdan.store.tables import GdAudit


async def record(actor: str, action: str, line_key: str, detail: dict[str, Any]) -> None:
    """Append one audit entry (call inside the transaction that makes the change)."""
    await GdAudit.insert(
        GdAudit(at=dt.datetime.now(dt.UTC), actor=actor, action=action, line_key=line_key,
                detail=detail)
    )


async def entries(line_key: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit entries first, optionally for one line."""
    query = GdAudit.select().order_by(GdAudit.id, ascending=False).limit(limit)
    if line_key:
        query = query.where(GdAudit.line_key == line_key)
    return list(await query.output(load_json=True))
