"""Inbound callbacks: verify, refuse replays durably, map to the ticket, post the event.

A callback at ``/api/callbacks/{source}`` goes to the one registered verifier that
accepts it (``register_callback_verifiers``). Its ``verify()`` checks the provider's
signature and decrypts (it may call the provider's API to read the approval's form, so
it runs in a worker thread). A forged or malformed callback is 401 and a WARNING in the
log (the reason, never the body, query or secrets). A verified approval event is posted
through :func:`gongdan.domain.tickets.services.post_event`, exactly like
``POST /api/tickets/{id}/events``, so the rules' ``on approval_passed`` triggers react;
its ``dedup_key`` goes into ``gd_callback`` (unique) in the same transaction, so a replay
is refused (409) after a restart too, and nothing of it is written.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import anyio.to_thread
import pluggy

from gongdan import plugins
from gongdan.domain.tickets import services as tickets
from gongdan.domain.users.services import CurrentUser
from gongdan.errors import ApiError, FieldError, conflict, invalid, not_found
from gongdan.hookspecs import (
    CallbackEvent,
    CallbackRejected,
    CallbackReplayed,
    CallbackReply,
    InboundCallback,
)
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdApproval, GdCallback, GdTicket
from gongdan.timers import clock

log = logging.getLogger("gongdan.callbacks")
CHANNEL = "callback"


class Replayed(ApiError):
    """409: a callback whose dedup_key was already turned into an event."""


def _refused(source: str, reason: str) -> ApiError:
    log.warning("callback %s refused: %s", source, reason)
    return ApiError(401, f"回调校验失败（{source}）：签名、时间戳或密文无效",
                    f"callback verification failed ({source}): bad signature, timestamp "
                    "or cipher text")


async def _ticket_for(event: CallbackEvent) -> int | None:
    """The ticket an approval is about: the approval id recorded when the approval was
    started wins (the platform wrote it); else the ticket number in the approval's form
    (which the applicant typed). A form naming another ticket than the recorded one is
    refused, never followed."""
    recorded: int | None = None
    if event.approval_id:
        rows = await GdApproval.select(GdApproval.ticket_id).where(
            GdApproval.key == f"{event.source}:{event.approval_id}")
        if rows:
            recorded = int(rows[0]["ticket_id"])
    by_form: int | None = None
    if event.ticket_ref:
        rows = await GdTicket.select(GdTicket.id).where(GdTicket.number == event.ticket_ref)
        if rows:
            by_form = int(rows[0]["id"])
    if recorded is not None and by_form is not None and by_form != recorded:
        log.warning("callback %s refused: approval %s was recorded for ticket %s but its "
                    "form names %s", event.source, event.approval_id, recorded, event.ticket_ref)
        raise conflict("审批单上的工单号与发起审批时记录的工单不一致",
                       "the approval's form names another ticket than the one it was "
                       "started for")
    return recorded if recorded is not None else by_form


async def receive(db: Database, settings: Settings, callback: InboundCallback,
                  pm: pluggy.PluginManager | None = None) -> tuple[CallbackReply, dict[str, Any]]:
    """Handle one callback; returns the provider's reply and what became of it
    (``{"outcome": "event" | "acknowledged" | "unmatched", ...}``) for the log and tests."""
    pm = pm or plugins.get_plugin_manager()
    source = callback.path.strip("/")
    matching = [v for v in plugins.cached_verifiers(pm) if v.accepts(callback)]
    if not matching:
        log.warning("callback %s refused: no verifier accepts it", source)
        raise not_found("回调来源", "callback source", source)
    if len(matching) > 1:
        log.warning("callback %s refused: %d verifiers accept it", source, len(matching))
        raise conflict(f"有 {len(matching)} 个插件处理回调 {source}",
                       f"{len(matching)} plugins accept callbacks at {source}")
    verifier = matching[0]
    try:
        verified = await anyio.to_thread.run_sync(verifier.verify, callback)
    except CallbackReplayed as exc:
        log.warning("callback %s refused: %s", source, exc)
        raise conflict(f"重复的回调（{source}）：已处理过", f"replayed callback ({source}): "
                       "already handled") from None
    except CallbackRejected as exc:
        raise _refused(source, str(exc)) from None
    event = verified.event
    if event is None:
        return verified.reply, {"outcome": "acknowledged"}
    ticket_id = await _ticket_for(event)
    if ticket_id is None:
        # an approval of the provider's that no ticket opened (a leave request...): answer
        # the provider so it stops retrying; nothing to record
        log.info("callback %s: %s %s matches no ticket", source, event.event_type,
                 event.approval_id or event.ticket_ref)
        return verified.reply, {"outcome": "unmatched"}
    now = clock.now()

    async def guard(row: dict[str, Any]) -> None:
        inserted = await GdCallback.insert(GdCallback(
            dedup_key=event.dedup_key, source=event.source or source,
            event_type=event.event_type, ticket_id=ticket_id,
            event_seq=int(row["last_seq"]) + 1, received_at=now,
        )).on_conflict(target=GdCallback.dedup_key, action="DO NOTHING").returning(GdCallback.id)
        if not inserted:
            log.warning("callback %s refused: replay of %s", source, event.dedup_key)
            raise Replayed(409, f"重复的回调（{source}）：该审批结果已处理",
                           f"replayed callback ({source}): this approval result was "
                           "already handled", data={"dedup_key": event.dedup_key})

    actor = f"{source}:{event.actor}" if event.actor else source
    # the verifier's fields never override what the event is or where it came from
    body = {**event.fields, "type": event.event_type, "channel": CHANNEL}
    result = await tickets.post_event(
        db, settings, ticket_id, body, CurrentUser(id=0, name=actor[:100], role="admin"),
        channels=(*tickets.CLIENT_CHANNELS, CHANNEL), within=guard)
    return verified.reply, {"outcome": "event", "ticket": ticket_id,
                            "event_seq": result["event_seq"],
                            "transition": result["transition"]}


def _check_text(key: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise invalid(f"{key} 必填，最多 {limit} 个字符", f"{key} is required, at most {limit} "
                      "characters", [FieldError(key=key, message_zh="必填且不超长",
                                                message_en=f"required, at most {limit} chars")])
    return value


async def record_approval(db: Database, ticket_id: int, source: str, approval_id: str,
                          actor: str = "") -> dict[str, Any]:
    """Remember that the provider's approval ``approval_id`` was started for ticket
    ``ticket_id``: its callback then finds the ticket without reading the form. Recording
    the same mapping again is a no-op; the same approval for another ticket is 409."""
    source = _check_text("source", source, 64)
    approval_id = _check_text("approval_id", approval_id, 200)
    key = f"{source}:{approval_id}"
    async with db.transaction():
        if not await GdTicket.exists().where(GdTicket.id == ticket_id):
            raise not_found("工单", "ticket", ticket_id)
        rows = await GdApproval.select().where(GdApproval.key == key)
        if rows and rows[0]["ticket_id"] != ticket_id:
            raise conflict(f"审批 {approval_id} 已关联到另一张工单",
                           f"approval {approval_id} is already linked to another ticket",
                           {"ticket_id": rows[0]["ticket_id"]})
        if not rows:
            await GdApproval.insert(GdApproval(
                key=key, source=source, approval_id=approval_id, ticket_id=ticket_id,
                created_by=actor, created_at=clock.now()))
            rows = await GdApproval.select().where(GdApproval.key == key)
    return _approval_out(rows[0])


def _approval_out(row: dict[str, Any]) -> dict[str, Any]:
    at = row["created_at"]
    return {"source": row["source"], "approval_id": row["approval_id"],
            "ticket_id": row["ticket_id"], "created_by": row["created_by"],
            "created_at": at.isoformat(timespec="seconds") if isinstance(at, dt.datetime)
            else None}


async def list_approvals(ticket_id: int) -> dict[str, Any]:
    """The approvals recorded for one ticket."""
    rows = await GdApproval.select().where(GdApproval.ticket_id == ticket_id).order_by(
        GdApproval.id)
    return {"items": [_approval_out(r) for r in rows]}
