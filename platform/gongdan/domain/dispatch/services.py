"""Dispatch: route a ticket by its line's rules, offer it, and let exactly one engineer claim it.

Every function that changes a ticket runs in ONE transaction that first locks the ticket row
(on PostgreSQL a row lock; on SQLite the IMMEDIATE transaction holds the write lock), writes
the ticket, its offers, the engineers' loads and its append-only events together, and stores
each routing decision with the rules' full score breakdown.

The claim is a conditional `UPDATE gd_ticket SET assignee = me ... WHERE assignee IS NULL AND
<me has a live offer>`: of two engineers claiming at once, the second finds the row already
taken (PostgreSQL re-checks the WHERE after the first commits) and gets 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gongdan import rules_runtime
from gongdan.domain.engineers import services as engineers
from gongdan.domain.tickets import services as tickets
from gongdan.domain.users.services import CurrentUser
from gongdan.errors import ApiError, FieldError, conflict, invalid, not_found
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import (
    GdDispatchDecision,
    GdDispatchQueue,
    GdEngineer,
    GdEvent,
    GdOffer,
    GdTicket,
)

MANAGERS = ("admin", "dispatcher", "supervisor")
DEFAULT_CLAIM_WITHIN = dt.timedelta(minutes=15)
RECENT_KEEP = 10
DRAIN_LIMIT = 50
FULL_SCAN_MAX = 300  # up to this many engineers, every one is evaluated (and explained)
CHANNELS = (*tickets.CLIENT_CHANNELS, "timer", "rule")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Record:
    """The events one transaction adds to a ticket's record, and the ticket's new values."""

    def __init__(self, row: dict[str, Any], actor: str, now: dt.datetime) -> None:
        self.row = row
        self.actor = actor
        self.now = now
        self.seq = int(row["last_seq"])
        self.events: list[GdEvent] = []
        self.values: dict[Any, Any] = {}
        self.bump = False

    def event(self, type_: str, channel: str, before: Any = None, after: Any = None,
              data: dict[str, Any] | None = None) -> int:
        self.seq += 1
        self.events.append(GdEvent(ticket_id=self.row["id"], seq=self.seq, type=type_, at=self.now,
                                   actor=self.actor, channel=channel, before=before, after=after,
                                   data=data or {}))
        return self.seq

    def assign(self, assignee: str | None) -> None:
        self.values[GdTicket.assignee] = assignee
        self.row["assignee"] = assignee
        self.bump = True

    async def save(self) -> None:
        if not self.events and not self.values:
            return
        values = {GdTicket.last_seq: self.seq, GdTicket.updated_at: self.now, **self.values}
        if self.bump:
            values[GdTicket.version] = int(self.row["version"]) + 1
            self.row["version"] = int(self.row["version"]) + 1
        self.row["last_seq"] = self.seq
        await GdTicket.update(values).where(GdTicket.id == self.row["id"])
        if self.events:
            await GdEvent.insert(*self.events)
        self.events, self.values, self.bump = [], {}, False


def _channel(channel: str) -> str:
    return tickets.check_channel(channel, allowed=CHANNELS)


async def _try_lock(ticket_id: int, sqlite: bool) -> dict[str, Any] | None:
    """Lock a waiting ticket for routing, or None when another transaction holds it (it is
    being claimed or moved: skip it rather than wait, so a drain never deadlocks)."""
    if sqlite:  # one writer at a time: nobody else holds it
        return await _lock(ticket_id)
    rows = await GdTicket.raw(
        "UPDATE gd_ticket SET last_seq = last_seq WHERE id = (SELECT id FROM gd_ticket WHERE id = {} "
        "FOR UPDATE SKIP LOCKED) RETURNING *", ticket_id)
    return tickets._load(dict(rows[0])) if rows else None


async def _lock(ticket_id: int) -> dict[str, Any]:
    rows = await GdTicket.raw(
        "UPDATE gd_ticket SET last_seq = last_seq WHERE id = {} RETURNING *", ticket_id)
    if not rows:
        raise not_found("工单", "ticket", ticket_id)
    return tickets._load(dict(rows[0]))


def _closed(ctx: tickets.LineContext, state: str) -> bool:
    return ctx.machine is not None and ctx.machine.category(state) == "closed"


def _scalar_fields(row: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in (row.get("fields") or {}).items()
              if isinstance(v, str | int | float | bool) and (not isinstance(v, str) or len(v) <= 100)}
    return {**fields, "ticket_id": row["id"], "line": row.get("line_key")}


# --- routing -------------------------------------------------------------------------------


async def _offers(ticket_id: int) -> list[dict[str, Any]]:
    return list(await GdOffer.select().where(GdOffer.ticket_id == ticket_id).order_by(GdOffer.id))


def _put_back_excluded(offers: list[dict[str, Any]], assignee: str | None) -> set[str]:
    """Who a ticket put back is not offered to again: those who declined it or let it go."""
    return {o["engineer"] for o in offers
            if o["state"] == "declined" or (o["state"] == "claimed" and o["engineer"] != assignee)}


async def route(ctx: tickets.LineContext, rec: Record, *, reason: str, channel: str = "rule",
                exclude: set[str] | None = None, team: str | None = None,
                store_if_none: bool = True, record: bool = True) -> dict[str, Any]:
    """Rank the engineers with the line's pools and offer the ticket to the top N not excluded.

    With nobody to offer it to, the ticket waits in the line's queue. The decision and the
    offers are always stored; `record` also puts an `offered`/`queued` event on the ticket's
    timeline (not at creation: there the decision is the ticket's first dispatch record).
    Returns what happened."""
    rs = ctx.rules
    row = rec.row
    if rs is None:
        return {"routed": False, "reason": "no_rules"}
    sla = row.get("sla") or {}
    extra = {"sla": {"tier": row["tier"]}, "id": row["id"]} if row.get("tier") else {"id": row["id"]}
    ticket = rules_runtime.rules_ticket(row["fields"], row["state"], row.get("facts") or {}, extra)
    if team is None:
        index, mine = await engineers.routing_index()
        with engineers.Overlay(index, mine) as people:
            # a small roster is scanned whole, so every engineer's rejecting require is on
            # record; a large one goes through the index (only who can pass is scored)
            decision = rs.route(ticket, people if len(people) > FULL_SCAN_MAX else list(people), rec.now)
    else:
        decision = rs.route(ticket, await engineers.routing_engineers(team), rec.now)
    prior = [] if reason == "create" else await _offers(row["id"])  # a new ticket has none
    round_ = max((int(o["round"]) for o in prior), default=0) + 1
    excluded = set(exclude or ())
    excluded |= {o["engineer"] for o in prior if o["state"] == "live"}
    ranked = [c.engineer_id for c in decision.candidates if c.rank is not None]
    n = len(decision.offered)
    chosen = [e for e in ranked if e not in excluded][:n] if decision.pool else []
    rules_offered = list(decision.offered)
    decision.offered = chosen
    if not chosen and not store_if_none:
        return {"routed": False, "offered": []}
    stored = decision.to_dict()
    stored.update(rules_offered=rules_offered, excluded_engineers=sorted(excluded), team=team)
    await GdDispatchDecision.insert(GdDispatchDecision(
        ticket_id=row["id"], at=rec.now, reason=reason, round=round_, pool=decision.pool,
        tier=decision.tier, actor=rec.actor, decision=stored))
    if chosen:
        within = decision.claim_within or DEFAULT_CLAIM_WITHIN
        expires = rec.now + within
        await GdOffer.insert(*[GdOffer(ticket_id=row["id"], engineer=e, round=round_, state="live",
                                       created_at=rec.now, expires_at=expires) for e in chosen])
        if reason != "create":
            await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == row["id"])
        if record:
            rec.event("offered", channel, None, {"offered": chosen},
                      {"reason": reason, "round": round_, "pool": decision.pool, "tier": decision.tier,
                       "expires_at": expires.isoformat(), "bypass_queue": bool(sla.get("bypass_queue")),
                       **({"team": team} if team else {})})
        return {"routed": True, "offered": chosen, "round": round_, "pool": decision.pool}
    await _enqueue(row)
    if record:
        rec.event("queued", channel, None, None,
                  {"reason": reason, "round": round_, "pool": decision.pool, "tier": decision.tier,
                   "why": "no_pool" if decision.pool is None else "no_eligible_engineer"})
    return {"routed": False, "offered": [], "round": round_, "pool": decision.pool, "queued": True}


async def _enqueue(row: dict[str, Any], escalated: bool = False) -> None:
    found = await GdDispatchQueue.select(GdDispatchQueue.id).where(GdDispatchQueue.ticket_id == row["id"])
    if found:
        if escalated:
            await GdDispatchQueue.update({GdDispatchQueue.escalated: True}).where(
                GdDispatchQueue.ticket_id == row["id"])
        return
    await GdDispatchQueue.insert(GdDispatchQueue(
        ticket_id=row["id"], line_key=row["line_key"], tier=row.get("tier"),
        deadline=row.get("respond_by"), since=now_utc(), escalated=escalated))


async def route_new_ticket(ctx: tickets.LineContext, row: dict[str, Any], actor: str) -> dict[str, Any]:
    """Called by ticket creation, inside its transaction: route and offer at once."""
    rec = Record(row, actor, now_utc())
    result = await route(ctx, rec, reason="create", record=False)
    await rec.save()
    return result


async def drain_queue(line_key: str, actor: str, limit: int = DRAIN_LIMIT) -> int:
    """Route the line's waiting tickets again, in order (tier, then deadline); inside a
    transaction. Returns how many got offers."""
    waiting = await GdDispatchQueue.select().where(GdDispatchQueue.line_key == line_key).order_by(
        GdDispatchQueue.tier).order_by(GdDispatchQueue.deadline).order_by(GdDispatchQueue.id).limit(limit)
    routed = 0
    from piccolo.engine.sqlite import SQLiteEngine

    sqlite = isinstance(GdTicket._meta.db, SQLiteEngine)
    for item in waiting:
        found = await _try_lock(item["ticket_id"], sqlite)
        if found is None:
            continue
        row = found
        ctx = await tickets._context(row["line_key"], row["form_version"])
        if row["assignee"] is not None or _closed(ctx, row["state"]):
            await GdDispatchQueue.delete().where(GdDispatchQueue.id == item["id"])
            continue
        rec = Record(row, actor, now_utc())
        prior = await _offers(row["id"])
        result = await route(ctx, rec, reason="requeue", exclude=_put_back_excluded(prior, None),
                             store_if_none=False)
        await rec.save()
        routed += bool(result.get("offered"))
    return routed


async def drain_all_queues(db: Database, settings: Settings, actor: str) -> int:
    """Route every line's waiting tickets again (an engineer came on shift or freed up)."""
    lines = {r["line_key"] for r in await GdDispatchQueue.select(GdDispatchQueue.line_key)}
    routed = 0
    for line in sorted(lines):
        async with db.transaction():
            routed += await drain_queue(line, actor)
    return routed


# --- hooks the ticket service calls -------------------------------------------------------


async def on_state_change(ctx: tickets.LineContext, row: dict[str, Any], old: str, new: str) -> None:
    """Inside the transaction that moves a ticket: closing frees its engineer (load - 1),
    withdraws its offers and takes it off the queue; re-opening counts it again."""
    was, now_closed = _closed(ctx, old), _closed(ctx, new)
    if was == now_closed:
        return
    now = now_utc()
    assignee = row.get("assignee")
    if now_closed:
        await GdOffer.update({GdOffer.state: "withdrawn", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == row["id"]) & (GdOffer.state == "live"))
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == row["id"])
        if assignee:
            await engineers.adjust_loads({assignee: -1}, now)
            await drain_queue(row["line_key"], "dispatch")
    elif assignee:
        await engineers.adjust_loads({assignee: +1}, now)


async def on_assignee_change(row: dict[str, Any], old: str | None, new: str | None) -> None:
    """Inside a transaction that sets the assignee directly (PATCH): move the load."""
    now = now_utc()
    await engineers.adjust_loads({k: d for k, d in ((old, -1), (new, +1)) if k}, now)
    await GdOffer.update({GdOffer.state: "withdrawn", GdOffer.closed_at: now}).where(
        (GdOffer.ticket_id == row["id"]) & (GdOffer.state == "live"))
    if new:
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == row["id"])


# --- claim, decline, release -------------------------------------------------------------


def _taken(by: str, me: str) -> ApiError:
    if by == me:
        return conflict("这张工单已经是你的了", "this ticket is already yours", {"assignee": by})
    return conflict(f"工单已被 {by} 接走", f"the ticket was already claimed by {by}", {"assignee": by})


def _no_offer(ticket_id: int) -> ApiError:
    return conflict("你没有这张工单的有效派单邀请（可能已过期、已撤回或已拒绝）",
                    "you have no live offer for this ticket (it may have expired, been withdrawn or declined)",
                    {"ticket": ticket_id})


async def claim(db: Database, settings: Settings, ticket_id: int, user: CurrentUser,
                channel: str = "app") -> dict[str, Any]:
    """The first engineer with a live offer gets the ticket; everyone else gets 409."""
    _channel(channel)
    me = user.name
    async with db.transaction():
        now = now_utc()
        rows = await GdTicket.raw(
            "UPDATE gd_ticket SET assignee = {}, version = version + 1, updated_at = {} "
            "WHERE id = {} AND assignee IS NULL AND EXISTS (SELECT 1 FROM gd_offer o "
            "WHERE o.ticket_id = gd_ticket.id AND o.engineer = {} AND o.state = 'live') RETURNING *",
            me, now, ticket_id, me)
        if not rows:
            found = await GdTicket.select(GdTicket.assignee).where(GdTicket.id == ticket_id)
            if not found:
                raise not_found("工单", "ticket", ticket_id)
            if found[0]["assignee"]:
                raise _taken(found[0]["assignee"], me)
            raise _no_offer(ticket_id)
        row = tickets._load(dict(rows[0]))
        offers = await GdOffer.update({GdOffer.state: "claimed", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == ticket_id) & (GdOffer.engineer == me) & (GdOffer.state == "live")
        ).returning(GdOffer.round)
        withdrawn = await GdOffer.update({GdOffer.state: "withdrawn", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == ticket_id) & (GdOffer.state == "live")).returning(GdOffer.engineer)
        await _count_assignment(me, row, now)
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == ticket_id)
        rec = Record(row, me, now)
        rec.event("claimed", channel, {"assignee": None}, {"assignee": me},
                  {"round": offers[0]["round"] if offers else None,
                   "withdrawn": sorted(w["engineer"] for w in withdrawn)})
        await rec.save()
        ctx = await tickets._context(row["line_key"], row["form_version"])
    return tickets.ticket_out(row, settings, ctx.machine)


async def _count_assignment(key: str, row: dict[str, Any], now: dt.datetime,
                            previous: str | None = None) -> None:
    """The engineer takes the ticket (from `previous`, whose load drops): load + 1, recent
    assignments (for fatigue), idle clock. Both loads change in one call, in key order, so
    two opposite reassignments never deadlock."""
    await engineers.adjust_loads({key: +1, **({previous: -1} if previous else {})}, now)
    found = await GdEngineer.select(GdEngineer.recent).where(GdEngineer.key == key).output(load_json=True)
    recent = (found[0]["recent"] if found else None) or []
    if isinstance(recent, str):
        import json

        recent = json.loads(recent)
    recent = [_scalar_fields(row), *recent][:RECENT_KEEP]
    await GdEngineer.update({GdEngineer.recent: recent, GdEngineer.idle_since: now}).where(
        GdEngineer.key == key)


async def decline(db: Database, settings: Settings, ticket_id: int, user: CurrentUser,
                  reason: str | None = None, channel: str = "app") -> dict[str, Any]:
    """Turn down a live offer; when no live offer is left, the ticket is routed again."""
    _channel(channel)
    async with db.transaction():
        row = await _lock(ticket_id)
        now = now_utc()
        done = await GdOffer.update({GdOffer.state: "declined", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == ticket_id) & (GdOffer.engineer == user.name) & (GdOffer.state == "live")
        ).returning(GdOffer.id)
        if not done:
            if row["assignee"]:
                raise _taken(row["assignee"], user.name)
            raise _no_offer(ticket_id)
        rec = Record(row, user.name, now)
        rec.event("declined", channel, None, None, {"reason": reason} if reason else {})
        result: dict[str, Any] = {"routed": False}
        prior = await _offers(ticket_id)
        if row["assignee"] is None and not any(o["state"] == "live" for o in prior):
            ctx = await tickets._context(row["line_key"], row["form_version"])
            result = await route(ctx, rec, reason="decline", exclude=_put_back_excluded(prior, None))
        await rec.save()
    return {"ticket": ticket_id, "declined": True, "routing": result}


async def release(db: Database, settings: Settings, ticket_id: int, user: CurrentUser,
                  reason: str | None = None, channel: str = "app") -> dict[str, Any]:
    """The assignee (or a dispatcher) puts the ticket back: it is routed again to others."""
    _channel(channel)
    async with db.transaction():
        row = await _lock(ticket_id)
        holder = row["assignee"]
        if holder is None:
            raise conflict("工单还没有处理人，无需退回", "the ticket has no assignee to release it")
        if holder != user.name and user.role not in MANAGERS:
            raise ApiError(403, "只有处理人或调度员可以退回工单",
                           "only the assignee or a dispatcher may release the ticket")
        ctx = await tickets._context(row["line_key"], row["form_version"])
        if _closed(ctx, row["state"]):
            raise conflict("工单已结案，不能退回", "the ticket is closed; it cannot be released")
        now = now_utc()
        rec = Record(row, user.name, now)
        rec.assign(None)
        rec.event("released", channel, {"assignee": holder}, {"assignee": None},
                  {"reason": reason} if reason else {})
        await engineers.adjust_loads({holder: -1}, now)
        prior = await _offers(ticket_id)
        result = await route(ctx, rec, reason="release", exclude=_put_back_excluded(prior, None) | {holder})
        await rec.save()
        await drain_queue(row["line_key"], user.name)
    return {"ticket": tickets.ticket_out(await tickets._get_row(ticket_id), settings, ctx.machine),
            "routing": result}


# --- reoffer and escalation ----------------------------------------------------------------


async def reoffer(db: Database, settings: Settings, ticket_id: int, actor: str,
                  channel: str = "timer") -> dict[str, Any]:
    """An offer timed out: expire the live offers and offer the next candidates not yet
    offered; after the pool's `after N reoffers`, escalate to its target instead."""
    _channel(channel)
    async with db.transaction():
        row = await _lock(ticket_id)
        if row["assignee"]:
            raise _taken(row["assignee"], "")
        ctx = await tickets._context(row["line_key"], row["form_version"])
        if _closed(ctx, row["state"]):
            raise conflict("工单已结案", "the ticket is closed")
        now = now_utc()
        rec = Record(row, actor, now)
        expired = await GdOffer.update({GdOffer.state: "expired", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == ticket_id) & (GdOffer.state == "live")).returning(GdOffer.engineer)
        if expired:
            rec.event("offer_expired", channel, None, None,
                      {"engineers": sorted(e["engineer"] for e in expired)})
        decisions = await GdDispatchDecision.select().where(
            GdDispatchDecision.ticket_id == ticket_id).order_by(GdDispatchDecision.id).output(load_json=True)
        done = sum(1 for d in decisions if d["reason"] == "reoffer")
        last = decisions[-1]["decision"] if decisions else {}
        if isinstance(last, str):
            import json

            last = json.loads(last)
        limit = last.get("escalate_after")
        if limit is not None and done >= int(limit):
            result = await _escalate(rec, last, channel, done)
        else:
            prior = await _offers(ticket_id)
            result = await route(ctx, rec, reason="reoffer", channel=channel,
                                 exclude={o["engineer"] for o in prior})
            result["reoffers"] = done + 1
        await rec.save()
    return {"ticket": ticket_id, **result}


async def _escalate(rec: Record, last: dict[str, Any], channel: str, done: int) -> dict[str, Any]:
    target = last.get("escalate_to") or {"kind": "supervisor", "name": None}
    person: str | None = None
    if target.get("kind") == "supervisor":
        from gongdan.timers.escalation import supervisor_of  # one helper with SLA breaches

        ids = [*last.get("offered", []), *[c["engineer_id"] for c in last.get("candidates", [])
                                           if c.get("rank") is not None]]
        person = await supervisor_of(ids)
    elif target.get("kind") == "role":
        person = target.get("name")
    await _enqueue(rec.row, escalated=True)
    rec.event("escalated", channel, None, {"to": target, "person": person},
              {"after_reoffers": done, "pool": last.get("pool")})
    return {"escalated": True, "to": target, "person": person, "reoffers": done}


# --- manual moves ---------------------------------------------------------------------------


async def _engineer(key: str, field: str) -> dict[str, Any]:
    rows = await GdEngineer.select().where(GdEngineer.key == key)
    if not rows or not rows[0]["active"]:
        raise invalid(f"工程师 {key} 不存在或已停用", f"engineer {key} does not exist or is inactive",
                      [FieldError(key=field, message_zh="工程师不存在", message_en="no such engineer")])
    return dict(rows[0])


async def _team_of(key: str | None) -> str | None:
    if not key:
        return None
    rows = await GdEngineer.select(GdEngineer.team).where(GdEngineer.key == key)
    return rows[0]["team"] if rows else None


def _need_reason(reason: str) -> str:
    if not reason.strip():
        raise invalid("请填写原因", "a reason is required",
                      [FieldError(key="reason", message_zh="原因必填", message_en="required")])
    return reason.strip()


async def reassign(db: Database, settings: Settings, ticket_id: int, engineer: str, reason: str,
                   user: CurrentUser, channel: str = "app", *, transfer_to: str | None = None
                   ) -> dict[str, Any]:
    """Give the ticket to `engineer` (a dispatcher's decision), with a reason, on the record."""
    _channel(channel)
    reason = _need_reason(reason)
    async with db.transaction():
        row = await _lock(ticket_id)
        target = await _engineer(engineer, "engineer")
        if transfer_to is not None and target["team"] != transfer_to:
            raise invalid(f"{engineer} 不在班组 {transfer_to}", f"{engineer} is not in team {transfer_to}",
                          [FieldError(key="engineer", message_zh="不在该班组", message_en="not in that team")])
        ctx = await tickets._context(row["line_key"], row["form_version"])
        if _closed(ctx, row["state"]):
            raise conflict("工单已结案，不能转派", "the ticket is closed; it cannot be reassigned")
        old = row["assignee"]
        if old == engineer:
            raise conflict(f"工单已由 {engineer} 处理", f"{engineer} already has the ticket")
        now = now_utc()
        old_team = await _team_of(old)
        rec = Record(row, user.name, now)
        rec.assign(engineer)
        await _count_assignment(engineer, row, now, previous=old)
        await GdOffer.update({GdOffer.state: "withdrawn", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == ticket_id) & (GdOffer.state == "live"))
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == ticket_id)
        kind = "transferred" if transfer_to is not None else "reassigned"
        rec.event(kind, channel, {"assignee": old, "team": old_team},
                  {"assignee": engineer, "team": target["team"]},
                  {"reason": reason, "cross_team": old_team != target["team"]})
        await rec.save()
    return tickets.ticket_out(await tickets._get_row(ticket_id), settings, ctx.machine)


async def transfer(db: Database, settings: Settings, ticket_id: int, team: str, reason: str,
                   user: CurrentUser, channel: str = "app", engineer: str | None = None) -> dict[str, Any]:
    """Hand the ticket to another team: to one of its engineers, or routed among the team."""
    if engineer:
        return await reassign(db, settings, ticket_id, engineer, reason, user, channel, transfer_to=team)
    _channel(channel)
    reason = _need_reason(reason)
    async with db.transaction():
        if not await GdEngineer.exists().where(GdEngineer.team == team):
            raise invalid(f"班组 {team} 没有工程师", f"team {team} has no engineers",
                          [FieldError(key="team", message_zh="班组不存在", message_en="unknown team")])
        row = await _lock(ticket_id)
        ctx = await tickets._context(row["line_key"], row["form_version"])
        if _closed(ctx, row["state"]):
            raise conflict("工单已结案，不能转派", "the ticket is closed; it cannot be transferred")
        now = now_utc()
        old = row["assignee"]
        old_team = await _team_of(old)
        rec = Record(row, user.name, now)
        if old:
            rec.assign(None)
            await engineers.adjust_loads({old: -1}, now)
        await GdOffer.update({GdOffer.state: "withdrawn", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == ticket_id) & (GdOffer.state == "live"))
        rec.event("transferred", channel, {"assignee": old, "team": old_team}, {"assignee": None, "team": team},
                  {"reason": reason, "cross_team": old_team != team})
        result = await route(ctx, rec, reason="transfer", team=team, exclude={old} if old else set())
        await rec.save()
    out = tickets.ticket_out(await tickets._get_row(ticket_id), settings, ctx.machine)
    return {**out, "routing": result}


# --- reading decisions ---------------------------------------------------------------------


def _decision(d: dict[str, Any]) -> Any:
    from gongdan_rules import Candidate, RouteDecision

    within = d.get("claim_within")
    return RouteDecision(
        pool=d.get("pool"), offered=list(d.get("offered", [])),
        candidates=[Candidate(c["engineer_id"], c["score"], c.get("factors") or {}, c.get("rejected_by"),
                              c.get("rank")) for c in d.get("candidates", [])],
        tier=d.get("tier"), claim_within=dt.timedelta(seconds=within) if within else None,
        escalate_after=d.get("escalate_after"), escalate_to=d.get("escalate_to"),
        considered=int(d.get("considered") or 0), excluded=int(d.get("excluded") or 0))


async def dispatch_view(settings: Settings, ticket_id: int, why: str | None = None,
                        not_: str | None = None) -> dict[str, Any]:
    """Every routing decision for the ticket, explained in Chinese and English."""
    from gongdan_rules import explain

    row = await tickets._get_row(ticket_id)
    rows = await GdDispatchDecision.select().where(GdDispatchDecision.ticket_id == ticket_id).order_by(
        GdDispatchDecision.id).output(load_json=True)
    import json

    stored = [(r, json.loads(r["decision"]) if isinstance(r["decision"], str) else r["decision"]) for r in rows]
    ids = {c["engineer_id"] for _, d in stored for c in d.get("candidates", [])}
    offers = await _offers(ticket_id)
    ids |= {o["engineer"] for o in offers}
    if why:
        ids.add(why)
    if not_:
        ids.add(not_)
    names = await engineers.names(ids)
    tz = tickets.ZoneInfo(settings.timezone)
    out = []
    for r, d in stored:
        decision = _decision(d)
        summary, report = explain.summary(decision, names), explain.report(decision, names)
        candidates = [{**c, "name": names.get(str(c["engineer_id"]), str(c["engineer_id"]))}
                      for c in d.get("candidates", [])]
        out.append({"id": r["id"], "at": tickets.iso(r["at"], tz), "reason": r["reason"], "round": r["round"],
                    "actor": r["actor"], "pool": r["pool"], "tier": r["tier"], **{
                        k: d.get(k) for k in ("offered", "rules_offered", "considered", "excluded",
                                              "claim_within", "escalate_after", "escalate_to", "team")},
                    "candidates": candidates,
                    "summary": {"zh": summary.zh, "en": summary.en},
                    "report": {"zh": report.zh, "en": report.en}})
    result: dict[str, Any] = {
        "ticket": ticket_id, "number": row["number"], "assignee": row["assignee"],
        "assignee_name": names.get(row["assignee"]) if row["assignee"] else None,
        "decisions": out,
        "offers": [{"engineer": o["engineer"], "name": names.get(o["engineer"], o["engineer"]),
                    "round": o["round"], "state": o["state"], "created_at": tickets.iso(o["created_at"], tz),
                    "expires_at": tickets.iso(o["expires_at"], tz)} for o in offers],
    }
    if why or not_:
        if not (why and not_):
            raise invalid("why 和 not 要同时给出", "give both `why` and `not`",
                          [FieldError(key="not" if why else "why", message_zh="缺少", message_en="missing")])
        pick = next((d for _, d in reversed(stored)
                     if {why, not_} <= {c["engineer_id"] for c in d.get("candidates", [])}),
                    stored[-1][1] if stored else None)
        if pick is None:
            raise conflict("这张工单还没有派单决定", "the ticket has no routing decision yet")
        people = {e["id"]: e for e in await engineers.routing_engineers()}
        answer = explain.why(_decision(pick), why, not_, names, people)
        result["why"] = {"zh": answer.zh, "en": answer.en, "chosen": why, "other": not_}
    return result


async def offers_for(settings: Settings, key: str) -> list[dict[str, Any]]:
    """An engineer's live offers, with enough of each ticket to decide."""
    tz = tickets.ZoneInfo(settings.timezone)
    live = await GdOffer.select().where((GdOffer.engineer == key) & (GdOffer.state == "live")).order_by(
        GdOffer.id)
    out = []
    for o in live:
        t = await tickets._get_row(o["ticket_id"])
        out.append({"ticket": t["id"], "number": t["number"], "line": t["line_key"], "tier": t["tier"],
                    "title": (t["fields"] or {}).get("title"), "round": o["round"],
                    "expires_at": tickets.iso(o["expires_at"], tz)})
    return out
