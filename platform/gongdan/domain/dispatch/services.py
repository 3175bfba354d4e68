"""Dispatch: route a ticket by its line's rules, offer it, and let exactly one engineer claim it.

Every function that changes a ticket runs in ONE transaction that first locks the ticket row
(on PostgreSQL a row lock; on SQLite the IMMEDIATE transaction holds the write lock), writes
the ticket, its offers, the engineers' loads, its timers and its append-only events
together, and stores each routing decision with the rules' full score breakdown.

The claim is a conditional `UPDATE gd_ticket SET assignee = me ... WHERE assignee IS NULL AND
<me has a live, unexpired offer>`, then a conditional `UPDATE gd_engineer SET load = load + 1
WHERE load < max_load`: of two engineers claiming at once, the second finds the ticket
already taken (PostgreSQL re-checks the WHERE after the first commits) and gets 409; of two
claims by one engineer at the limit, the second finds the load already raised and gets 409.

Offers expire at `claim within`: the same transaction that makes them arms a
`claim_timeout` timer, which the scheduler fires into `reoffer_on_timeout`.

Time is `gongdan.timers.clock.now()` everywhere (injectable in tests).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

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
    GdTimer,
)
from gongdan.timers import arming, clock

MANAGERS = ("admin", "dispatcher", "supervisor")
DEFAULT_CLAIM_WITHIN = dt.timedelta(minutes=15)
RECENT_KEEP = 10
DRAIN_SCAN = 2000  # waiting tickets one drain looks at (those it cannot place are skipped)
DRAIN_ROUTES = 100  # of which it routes at most this many in full
FULL_SCAN_MAX = 300  # up to this many engineers, every one is evaluated (and explained)
BYPASS_OVER = 1  # a `bypass queue` tier may take an engineer this many tickets over max_load
NO_RANK = 1000  # the queue rank of a ticket without a tier
CHANNELS = (*tickets.CLIENT_CHANNELS, "timer", "rule")


def now_utc() -> dt.datetime:
    """The platform's (injectable) clock."""
    return clock.now()


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


def _sqlite() -> bool:
    from piccolo.engine.sqlite import SQLiteEngine

    return isinstance(GdTicket._meta.db, SQLiteEngine)


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


def _bypass(row: dict[str, Any]) -> bool:
    return bool((row.get("sla") or {}).get("bypass_queue"))


def _aware(value: Any) -> dt.datetime | None:
    return None if value is None else clock.aware(value)


# --- timers --------------------------------------------------------------------------------


async def _cancel_claim_timeouts(ticket_id: int) -> None:
    await GdTimer.update({GdTimer.state: "cancelled"}).where(
        (GdTimer.ticket_id == ticket_id) & (GdTimer.state == "pending")
        & (GdTimer.kind == "claim_timeout"))


async def _withdraw_live(ticket_id: int, now: dt.datetime) -> list[str]:
    """Withdraw the ticket's live offers and their claim time-out; returns who had one."""
    gone = await GdOffer.update({GdOffer.state: "withdrawn", GdOffer.closed_at: now}).where(
        (GdOffer.ticket_id == ticket_id) & (GdOffer.state == "live")).returning(GdOffer.engineer)
    await _cancel_claim_timeouts(ticket_id)
    return sorted(g["engineer"] for g in gone)


# --- routing -------------------------------------------------------------------------------


async def _offers(ticket_id: int) -> list[dict[str, Any]]:
    return list(await GdOffer.select().where(GdOffer.ticket_id == ticket_id).order_by(GdOffer.id))


def _put_back_excluded(offers: list[dict[str, Any]], assignee: str | None) -> set[str]:
    """Who a ticket put back is not offered to again: those who declined it or let it go."""
    return {o["engineer"] for o in offers
            if o["state"] == "declined" or (o["state"] == "claimed" and o["engineer"] != assignee)}


def _rules_ticket(row: dict[str, Any]) -> dict[str, Any]:
    extra = {"sla": {"tier": row["tier"]}, "id": row["id"]} if row.get("tier") else {"id": row["id"]}
    return rules_runtime.rules_ticket(row["fields"], row["state"], row.get("facts") or {}, extra)


def _lifted(people: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engineers as a `bypass queue` tier sees them: each with room for BYPASS_OVER
    more tickets than their max_load (the load limit is soft for an emergency; the claim
    allows the same)."""
    return [{**e, "max_load": int(e["max_load"]) + BYPASS_OVER} for e in people]


async def _decide(rs: Any, ticket: dict[str, Any], now: dt.datetime, team: str | None,
                  lift: bool = False) -> Any:
    if team is not None:
        people = await engineers.routing_engineers(team)
        return rs.route(ticket, _lifted(people) if lift else people, now)
    index, mine = await engineers.routing_index()
    with engineers.Overlay(index, mine) as people:
        if lift:
            return rs.route(ticket, _lifted(people), now)
        # a small roster is scanned whole, so every engineer's rejecting require is on
        # record; a large one goes through the index (only who can pass is scored)
        return rs.route(ticket, people if len(people) > FULL_SCAN_MAX else list(people), now)


def _tier_rank(rs: Any, tier: str | None) -> int:
    names = [t.tier for t in getattr(rs, "tiers", ())] if rs is not None else []
    return names.index(tier) if tier in names else NO_RANK


async def route(ctx: tickets.LineContext, rec: Record, *, reason: str, channel: str = "rule",
                exclude: set[str] | None = None, team: str | None = None,
                store_if_none: bool = True, record: bool = True) -> dict[str, Any]:
    """Rank the engineers with the line's pools and offer the ticket to the top N not excluded.

    The offers expire at the pool's `claim within` (default 15 minutes): a `claim_timeout`
    timer is armed in this transaction. A `bypass queue` tier that finds nobody eligible is
    ranked again with the load limit lifted by one (`BYPASS_OVER`), so it goes out at once.
    With nobody to offer it to, the ticket waits in the line's queue. The decision and the
    offers are always stored; `record` also puts an `offered`/`queued` event on the ticket's
    timeline (not at creation: there the decision is the ticket's first dispatch record).
    Returns what happened."""
    rs = ctx.rules
    row = rec.row
    if rs is None:
        return {"routed": False, "reason": "no_rules"}
    ticket = _rules_ticket(row)
    decision = await _decide(rs, ticket, rec.now, team)
    prior = [] if reason == "create" else await _offers(row["id"])  # a new ticket has none
    round_ = max((int(o["round"]) for o in prior), default=0) + 1
    excluded = set(exclude or ())
    excluded |= {o["engineer"] for o in prior if o["state"] == "live"}

    def pick(d: Any) -> list[str]:
        ranked = [c.engineer_id for c in d.candidates if c.rank is not None]
        return [e for e in ranked if e not in excluded][:len(d.offered)] if d.pool else []

    chosen = pick(decision)
    bypass = _bypass(row)
    lifted = False
    if not chosen and bypass and decision.pool:
        again = await _decide(rs, ticket, rec.now, team, lift=True)
        if again_chosen := pick(again):
            decision, chosen, lifted = again, again_chosen, True
    rules_offered = list(decision.offered)
    decision.offered = chosen
    if not chosen and not store_if_none:
        return {"routed": False, "offered": []}
    stored = decision.to_dict()
    stored.update(rules_offered=rules_offered, excluded_engineers=sorted(excluded), team=team,
                  bypass_queue=bypass, load_limit_lifted=lifted)
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
            await _cancel_claim_timeouts(row["id"])
        await arming.arm("claim_timeout", expires, ticket_id=row["id"], now=rec.now,
                         payload={"round": round_, "offered": chosen, "expires_at": expires.isoformat()})
        if record:
            rec.event("offered", channel, None, {"offered": chosen},
                      {"reason": reason, "round": round_, "pool": decision.pool, "tier": decision.tier,
                       "expires_at": expires.isoformat(), "bypass_queue": bypass,
                       **({"load_limit_lifted": True} if lifted else {}),
                       **({"team": team} if team else {})})
        return {"routed": True, "offered": chosen, "round": round_, "pool": decision.pool,
                "expires_at": expires.isoformat(), **({"load_limit_lifted": True} if lifted else {})}
    await _enqueue(rs, row, rec.now)
    if record:
        rec.event("queued", channel, None, None,
                  {"reason": reason, "round": round_, "pool": decision.pool, "tier": decision.tier,
                   "why": "no_pool" if decision.pool is None else "no_eligible_engineer"})
    return {"routed": False, "offered": [], "round": round_, "pool": decision.pool, "queued": True}


async def _enqueue(rs: Any, row: dict[str, Any], now: dt.datetime, escalated: bool = False) -> None:
    found = await GdDispatchQueue.select(GdDispatchQueue.id).where(GdDispatchQueue.ticket_id == row["id"])
    if found:
        if escalated:
            await GdDispatchQueue.update({GdDispatchQueue.escalated: True}).where(
                GdDispatchQueue.ticket_id == row["id"])
        return
    await GdDispatchQueue.insert(GdDispatchQueue(
        ticket_id=row["id"], line_key=row["line_key"], tier=row.get("tier"),
        deadline=row.get("respond_by"), since=now, escalated=escalated,
        rank=_tier_rank(rs, row.get("tier")), bypass=_bypass(row)))


async def route_new_ticket(ctx: tickets.LineContext, row: dict[str, Any], actor: str) -> dict[str, Any]:
    """Called by ticket creation, inside its transaction: route and offer at once."""
    rec = Record(row, actor, now_utc())
    result = await route(ctx, rec, reason="create", record=False)
    await rec.save()
    return result


# --- the queue -------------------------------------------------------------------------------

# bypass tiers first, then the tier's place in the ruleset, then the deadline (none last, on
# both engines), then who waited longest
_ORDER = "bypass DESC, rank, deadline IS NULL, deadline, id"


async def queued(line_key: str | None = None, limit: int = DRAIN_SCAN) -> list[dict[str, Any]]:
    """The waiting tickets in the order they are routed again."""
    where = "WHERE line_key = {} " if line_key is not None else ""
    args = [line_key] if line_key is not None else []
    return [dict(r) for r in await GdDispatchQueue.raw(
        f"SELECT * FROM gd_dispatch_queue {where}ORDER BY {_ORDER} LIMIT {int(limit)}", *args)]


async def drain(actor: str, freed: Iterable[str] | None = None, routes: int = DRAIN_ROUTES,
                scan: int = DRAIN_SCAN, skip: int | None = None) -> int:
    """Route waiting tickets again, of every line, in queue order; inside a transaction.

    `freed`: the engineers who just came free (closed or gave back a ticket, came on shift,
    were imported or changed). A waiting ticket only becomes placeable through someone who
    changed, so with `freed` a ticket is routed only when one of them passes its pool (a
    check among those few, before any lock), and the drain stops once their free capacity
    is offered out (one offer per free slot, so the head of the queue gets it first).
    Tickets that cannot be placed are skipped, not waited on: at most `scan` waiting tickets
    are looked at and at most `routes` routed in full. `skip`: the ticket whose own
    transaction this drain runs in, just routed (with its own restrictions: a transfer's
    team, a put-back's exclusions) and not yet fully written; the drain leaves it alone.
    Returns how many got offers."""
    sqlite = _sqlite()
    keys = sorted(set(freed)) if freed is not None else None
    people: dict[str, dict[str, Any]] = {}
    if keys is not None:
        people = {e["id"]: e for e in await engineers.routing_engineers(keys=keys)}
        if not people:
            return 0
    waiting = [tickets._load(dict(r)) for r in await GdTicket.raw(
        "SELECT q.id AS queue_id, t.* FROM gd_dispatch_queue q JOIN gd_ticket t ON t.id = q.ticket_id "
        f"ORDER BY {', '.join('q.' + c for c in _ORDER.split(', '))} LIMIT {int(scan)}")]
    contexts: dict[tuple[str, int], tickets.LineContext] = {}
    spoken: Counter[str] = Counter()  # offers made in this drain, per engineer
    free: dict[str, int] = {}
    routed = 0
    for hint in waiting:
        if hint["id"] == skip:
            continue
        if routes <= 0 or (keys is not None and not people):
            break  # the budget is spent, or the freed capacity is offered out
        at = (hint["line_key"], int(hint["form_version"]))
        if at not in contexts:
            contexts[at] = await tickets._context(*at)
        ctx = contexts[at]
        bypass = _bypass(hint)
        now = now_utc()
        if keys is not None and ctx.rules is not None and hint["assignee"] is None:
            check = list(people.values())
            d = ctx.rules.route(_rules_ticket(hint), _lifted(check) if bypass else check, now)
            if not any(c.rank is not None for c in d.candidates):
                continue  # none of the freed engineers can take it (a hint: re-checked below)
        row = await _try_lock(hint["id"], sqlite)
        if row is None:
            continue  # someone is claiming or moving it
        if row["assignee"] is not None or _closed(ctx, row["state"]) or ctx.rules is None:
            await GdDispatchQueue.delete().where(GdDispatchQueue.id == hint["queue_id"])
            continue
        routes -= 1
        prior = await _offers(row["id"])
        full = {e for e, n in spoken.items() if not bypass and n >= free.get(e, 0)}
        rec = Record(row, actor, now)
        result = await route(ctx, rec, reason="requeue", exclude=_put_back_excluded(prior, None) | full,
                             store_if_none=False)
        await rec.save()
        chosen = result.get("offered") or []
        routed += bool(chosen)
        if chosen:  # a bypass tier may go over the spoken-for slots, but it takes one
            for r in await GdEngineer.select(GdEngineer.key, GdEngineer.load, GdEngineer.max_load).where(
                    GdEngineer.key.is_in(chosen)):
                free[r["key"]] = max(0, int(r["max_load"]) - int(r["load"]))
                spoken[r["key"]] += 1
                if r["key"] in people and spoken[r["key"]] >= free[r["key"]]:
                    del people[r["key"]]
    return routed


async def drain_all_queues(db: Database, settings: Settings, actor: str,
                           freed: Iterable[str] | None = None) -> int:
    """Route waiting tickets again in their own transaction (someone came on shift or
    freed up, outside a ticket's transaction)."""
    async with db.transaction():
        return await drain(actor, freed)


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
        await _withdraw_live(row["id"], now)
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == row["id"])
        if assignee:
            await engineers.adjust_loads({assignee: -1}, now)
            await drain("dispatch", {assignee})
    elif assignee:
        await engineers.adjust_loads({assignee: +1}, now)


async def on_assignee_change(row: dict[str, Any], old: str | None, new: str | None) -> None:
    """Inside a transaction that sets the assignee directly (PATCH): move the load (a
    dispatcher's decision: not held to max_load) and route the queue for who freed up."""
    now = now_utc()
    await engineers.adjust_loads({k: d for k, d in ((old, -1), (new, +1)) if k}, now)
    await _withdraw_live(row["id"], now)
    if new:
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == row["id"])
    else:  # unassigned: put back, routed to others (the PATCH writes the ticket's events)
        ctx = await tickets._context(row["line_key"], row["form_version"])
        if not _closed(ctx, row["state"]):
            prior = await _offers(row["id"])
            await route(ctx, Record(dict(row), "dispatch", now), reason="unassign", record=False,
                        exclude=_put_back_excluded(prior, None) | ({old} if old else set()))
    if old:
        await drain("dispatch", {old}, skip=row["id"])


async def on_event(row: dict[str, Any], etype: str, data: dict[str, Any], actor: str,
                   now: dt.datetime) -> None:
    """Inside the transaction that records an event: a `scan_checkin` (QR check-in) by the
    assigned engineer that carries a location moves the engineer there."""
    if etype != "scan_checkin" or not actor or actor != row.get("assignee"):
        return
    raw = data.get("location")
    if raw is None and "lat" in data and "lon" in data:
        raw = {"lat": data["lat"], "lon": data["lon"]}
    if raw is None:
        return
    loc = engineers._location(raw)
    if loc is None:
        raise invalid("签到位置应为 {lat, lon}（纬度 -90..90，经度 -180..180）",
                      "the check-in location must be {lat, lon} (lat -90..90, lon -180..180)",
                      [FieldError(key="location", message_zh="位置无效", message_en="invalid location")])
    await GdEngineer.update({GdEngineer.location: loc, GdEngineer.location_at: now,
                             GdEngineer.updated_at: now}).where(GdEngineer.key == actor)
    await engineers.touch([actor])


# --- claim, decline, release -------------------------------------------------------------


def _taken(by: str, me: str) -> ApiError:
    if by == me:
        return conflict("这张工单已经是你的了", "this ticket is already yours", {"assignee": by})
    return conflict(f"工单已被 {by} 接走", f"the ticket was already claimed by {by}", {"assignee": by})


def _no_offer(ticket_id: int) -> ApiError:
    return conflict("你没有这张工单的有效派单邀请（可能已过期、已撤回或已拒绝）",
                    "you have no live offer for this ticket (it may have expired, been withdrawn or declined)",
                    {"ticket": ticket_id})


async def _refuse_claim(settings: Settings, ticket_id: int, me: str, now: dt.datetime) -> ApiError:
    found = await GdTicket.select(GdTicket.assignee).where(GdTicket.id == ticket_id)
    if not found:
        return not_found("工单", "ticket", ticket_id)
    if found[0]["assignee"]:
        return _taken(found[0]["assignee"], me)
    live = await GdOffer.select(GdOffer.expires_at).where(
        (GdOffer.ticket_id == ticket_id) & (GdOffer.engineer == me) & (GdOffer.state == "live"))
    expired = [a for a in (_aware(o["expires_at"]) for o in live) if a is not None and a <= now]
    if expired:
        at = max(expired).astimezone(ZoneInfo(settings.timezone))
        return conflict(f"你的派单邀请已于 {at:%H:%M} 过期（接单时限已到），工单将改派给其他人",
                        f"your offer expired at {at:%H:%M} (the claim window ended); the ticket "
                        "goes to the next engineers",
                        {"ticket": ticket_id, "expires_at": at.isoformat(timespec="seconds")})
    return _no_offer(ticket_id)


def _full(load: int, max_load: int, bypass: bool) -> ApiError:
    if bypass:
        return conflict(f"你手上已有 {load} 张未结工单，紧急工单也最多超出负载上限 {max_load} 张 "
                        f"{BYPASS_OVER} 张，请先完成或退回一张",
                        f"you hold {load} open tickets; even an emergency may exceed your max_load "
                        f"of {max_load} by only {BYPASS_OVER}: finish or release one first",
                        {"load": load, "max_load": max_load})
    return conflict(f"你手上已有 {load} 张未结工单，达到负载上限 {max_load}，请先完成或退回一张",
                    f"you hold {load} open tickets, your max_load of {max_load}: finish or release "
                    "one first", {"load": load, "max_load": max_load})


async def claim(db: Database, settings: Settings, ticket_id: int, user: CurrentUser,
                channel: str = "app") -> dict[str, Any]:
    """The first engineer with a live, unexpired offer and room under max_load gets the
    ticket; everyone else gets 409. The claim is the first response: the ticket's timers
    are re-armed (the respond clock stops) in the same transaction."""
    _channel(channel)
    me = user.name
    async with db.transaction():
        now = now_utc()
        rows = await GdTicket.raw(
            "UPDATE gd_ticket SET assignee = {}, version = version + 1, updated_at = {} "
            "WHERE id = {} AND assignee IS NULL AND EXISTS (SELECT 1 FROM gd_offer o "
            "WHERE o.ticket_id = gd_ticket.id AND o.engineer = {} AND o.state = 'live' "
            "AND (o.expires_at IS NULL OR o.expires_at > {})) RETURNING *",
            me, now, ticket_id, me, now)
        if not rows:
            raise await _refuse_claim(settings, ticket_id, me, now)
        row = tickets._load(dict(rows[0]))
        bypass = _bypass(row)
        # the load limit, atomically: a second claim at the limit re-checks after the first
        took = await GdEngineer.raw(
            "UPDATE gd_engineer SET load = load + 1 WHERE key = {} AND load < max_load + {} RETURNING load",
            me, BYPASS_OVER if bypass else 0)
        if not took:
            found = await GdEngineer.select(GdEngineer.load, GdEngineer.max_load).where(GdEngineer.key == me)
            if not found:
                raise _no_offer(ticket_id)
            raise _full(int(found[0]["load"]), int(found[0]["max_load"]), bypass)  # rolls back
        offers = await GdOffer.update({GdOffer.state: "claimed", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == ticket_id) & (GdOffer.engineer == me) & (GdOffer.state == "live")
        ).returning(GdOffer.round)
        withdrawn = await _withdraw_live(ticket_id, now)
        await _count_assignment(me, row, now, counted=True)
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == ticket_id)
        rec = Record(row, me, now)
        rec.event("claimed", channel, {"assignee": None}, {"assignee": me},
                  {"round": offers[0]["round"] if offers else None, "withdrawn": withdrawn})
        await rec.save()
        ctx = await tickets._context(row["line_key"], row["form_version"])
        # the first claim is the first response: respond warnings and breach are cancelled
        await tickets._rearm(settings, ctx, ticket_id, row["state"], now)
    return tickets.ticket_out(await tickets._get_row(ticket_id), settings, ctx.machine)


async def _count_assignment(key: str, row: dict[str, Any], now: dt.datetime,
                            previous: str | None = None, counted: bool = False) -> None:
    """The engineer takes the ticket (from `previous`, whose load drops): load + 1 (unless
    the claim already `counted` it), recent assignments (for fatigue), idle clock. Both loads
    change in one call, in key order, so two opposite reassignments never deadlock."""
    deltas = {**({} if counted else {key: +1}), **({previous: -1} if previous else {})}
    await engineers.adjust_loads(deltas, now)
    found = await GdEngineer.select(GdEngineer.recent).where(GdEngineer.key == key).output(load_json=True)
    recent = (found[0]["recent"] if found else None) or []
    if isinstance(recent, str):
        recent = json.loads(recent)
    recent = [_scalar_fields(row), *recent][:RECENT_KEEP]
    await GdEngineer.update({GdEngineer.recent: recent, GdEngineer.idle_since: now}).where(
        GdEngineer.key == key)
    await engineers.touch([key])


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
        await drain(user.name, {holder}, skip=ticket_id)
    return {"ticket": tickets.ticket_out(await tickets._get_row(ticket_id), settings, ctx.machine),
            "routing": result}


# --- reoffer and escalation ----------------------------------------------------------------


async def _reoffer(ctx: tickets.LineContext, rec: Record, channel: str,
                   settings: Settings | None = None) -> dict[str, Any]:
    """The one code path of a claim time-out, from the timer or a dispatcher: expire the
    live offers, offer the next candidates not yet offered, or, after the pool's
    `after N reoffers`, escalate (the caller holds the ticket's lock and saves `rec`).
    `settings`: the caller's (the app's, for the HTTP reoffer); None inside a timer's
    firing, where the outbox uses the scheduler's (`outbox.current_settings()`)."""
    ticket_id = rec.row["id"]
    expired = await GdOffer.update({GdOffer.state: "expired", GdOffer.closed_at: rec.now}).where(
        (GdOffer.ticket_id == ticket_id) & (GdOffer.state == "live")).returning(GdOffer.engineer)
    await _cancel_claim_timeouts(ticket_id)
    if expired:
        rec.event("offer_expired", channel, None, None,
                  {"engineers": sorted(e["engineer"] for e in expired)})
    decisions = await GdDispatchDecision.select().where(
        GdDispatchDecision.ticket_id == ticket_id).order_by(GdDispatchDecision.id).output(load_json=True)
    done = sum(1 for d in decisions if d["reason"] == "reoffer")
    last = decisions[-1]["decision"] if decisions else {}
    if isinstance(last, str):
        last = json.loads(last)
    limit = last.get("escalate_after")
    if limit is not None and done >= int(limit):
        return await _escalate(ctx, rec, last, channel, done, settings)
    prior = await _offers(ticket_id)
    result = await route(ctx, rec, reason="reoffer", channel=channel,
                         exclude={o["engineer"] for o in prior})
    result["reoffers"] = done + 1
    return result


async def reoffer(db: Database, settings: Settings, ticket_id: int, actor: str,
                  channel: str = "timer") -> dict[str, Any]:
    """A dispatcher (or a client of the time engine) ends the claim window now."""
    _channel(channel)
    async with db.transaction():
        row = await _lock(ticket_id)
        if row["assignee"]:
            raise _taken(row["assignee"], "")
        ctx = await tickets._context(row["line_key"], row["form_version"])
        if _closed(ctx, row["state"]):
            raise conflict("工单已结案", "the ticket is closed")
        rec = Record(row, actor, now_utc())
        result = await _reoffer(ctx, rec, channel, settings)
        await rec.save()
    return {"ticket": ticket_id, **result}


async def reoffer_on_timeout(*, ticket_id: int, offer: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The scheduler's `claim_timeout` handler, inside the firing transaction (the ticket is
    locked): when the offers of the timer's round are still live, end their claim window
    (`_reoffer`, channel `timer`). A stale timer (claimed, closed, declined and routed
    again, withdrawn) does nothing."""
    row = await _lock(ticket_id)
    if row["assignee"]:
        return {"ticket": ticket_id, "stale": "assigned"}
    ctx = await tickets._context(row["line_key"], row["form_version"])
    if _closed(ctx, row["state"]):
        return {"ticket": ticket_id, "stale": "closed"}
    live = await GdOffer.select(GdOffer.round).where(
        (GdOffer.ticket_id == ticket_id) & (GdOffer.state == "live"))
    round_ = offer.get("round")
    if not live or (round_ is not None and not any(int(o["round"]) == int(round_) for o in live)):
        return {"ticket": ticket_id, "stale": "no_live_offer"}
    rec = Record(row, "timer", now)
    result = await _reoffer(ctx, rec, "timer")
    await rec.save()
    return {"ticket": ticket_id, **result}


async def _escalate(ctx: tickets.LineContext, rec: Record, last: dict[str, Any], channel: str,
                    done: int, settings: Settings | None = None) -> dict[str, Any]:
    target = last.get("escalate_to") or {"kind": "supervisor", "name": None}
    person: str | None = None
    if target.get("kind") == "supervisor":
        from gongdan.timers.escalation import supervisor_of  # one helper with SLA breaches

        ids = [*last.get("offered", []), *[c["engineer_id"] for c in last.get("candidates", [])
                                           if c.get("rank") is not None]]
        person = await supervisor_of(ids)
    elif target.get("kind") == "role":
        person = target.get("name")
    await _enqueue(ctx.rules, rec.row, rec.now, escalated=True)
    to = _escalation_address(target, person)
    seq = rec.event("escalated", channel, None, {"to": target, "person": person},
                    {"after_reoffers": done, "pool": last.get("pool"), "notified": to})
    await _escalation_notice(rec, seq, to, done, last.get("pool"), settings)
    return {"escalated": True, "to": target, "person": person, "reoffers": done}


def _escalation_address(target: dict[str, Any], person: str | None) -> str:
    """Who the escalation notice goes to, as the outbox resolves it: the supervisor found,
    `role:<name>`, a named person, or `supervisor` (the outbox's resolver then finds the
    assignee's supervisor or every user with role supervisor)."""
    kind, name = target.get("kind"), target.get("name")
    if person and kind != "role":
        return str(person)
    if kind == "role" and name:
        return f"role:{name}"
    if kind in ("person", "user", "engineer") and name:
        return str(name)
    return "supervisor"


async def _escalation_notice(rec: Record, seq: int, to: str, done: int, pool: Any,
                             settings: Settings | None = None) -> None:
    """The `超时升级` notice of a dispatch escalation, in the escalation's transaction: the
    channel (`GONGDAN_TIMER_CHANNEL`), the override folder and the public URL come from
    `settings` (the app's), else from the firing timer's (`outbox.current_settings()`)."""
    from gongdan.outbox import service as outbox

    settings = settings or outbox.current_settings()
    await outbox.enqueue(
        key=f"ticket:{rec.row['id']}:event:{seq}:escalated", channel=settings.timer_channel,
        template="超时升级", to=to, kind="escalation", ticket_id=int(rec.row["id"]),
        settings=settings, now=rec.now,
        event={"type": "escalated", "seq": seq, "after_reoffers": done, "pool": pool},
        context={"reason_zh": f"派单 {done} 轮后仍无人接单", "reason_en": f"nobody claimed it after {done} reoffers",
                 "assignee": rec.row.get("assignee") or ""})


# --- shifts -------------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_shift(shifts: list[list[str]], local: dt.datetime) -> bool:
    """Whether the local time falls in one of the daily windows ([start, end); a window
    whose end is before its start crosses midnight; equal ends mean all day)."""
    t = local.hour * 60 + local.minute
    for start_s, end_s in shifts:
        start, end = _minutes(start_s), _minutes(end_s)
        if start == end or (start < end and start <= t < end) or (start > end and (t >= start or t < end)):
            return True
    return False


async def go_off_shift(key: str, actor: str, now: dt.datetime, scheduled: bool = False) -> bool:
    """In a transaction: the engineer goes off shift; their live offers are withdrawn and
    each ticket left without a live offer is routed again. Locks the tickets first (the
    order every change of a ticket takes), then the engineer. False when there is no such
    engineer."""
    tickets_ = sorted({o["ticket_id"] for o in await GdOffer.select(GdOffer.ticket_id).where(
        (GdOffer.engineer == key) & (GdOffer.state == "live"))})
    rows = {tid: await _lock(tid) for tid in tickets_}
    values: dict[Any, Any] = {GdEngineer.on_shift: False, GdEngineer.updated_at: now}
    if scheduled:
        values[GdEngineer.shift_state] = False
    changed = await GdEngineer.update(values).where(GdEngineer.key == key).returning(GdEngineer.key)
    if not changed:
        return False
    await engineers.touch([key])
    for tid, row in rows.items():
        gone = await GdOffer.update({GdOffer.state: "withdrawn", GdOffer.closed_at: now}).where(
            (GdOffer.ticket_id == tid) & (GdOffer.engineer == key) & (GdOffer.state == "live")
        ).returning(GdOffer.id)
        if not gone:
            continue
        rec = Record(row, actor, now)
        rec.event("offer_withdrawn", "timer" if scheduled else "app", None, None,
                  {"engineers": [key], "why": "off_shift"})
        prior = await _offers(tid)
        if row["assignee"] is None and not any(o["state"] == "live" for o in prior):
            ctx = await tickets._context(row["line_key"], row["form_version"])
            if not _closed(ctx, row["state"]):
                await _cancel_claim_timeouts(tid)
                await route(ctx, rec, reason="off_shift", exclude=_put_back_excluded(prior, None) | {key})
        await rec.save()
    return True


_SHIFT_SEEN: dict[int, str] = {}  # per database: the minute last checked


async def shift_tick(db: Database, settings: Settings, now: dt.datetime) -> dict[str, list[str]]:
    """Put engineers on and off shift from their schedule (`shifts`, in GONGDAN_TIMEZONE).
    The schedule is applied when it differs from what it last applied (`shift_state`), so a
    manual on/off-shift holds until the next boundary. Coming on shift routes the queues."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    mark = local.strftime("%Y%m%d%H%M")
    if _SHIFT_SEEN.get(id(db)) == mark:  # schedules are to the minute: once a minute
        return {"on": [], "off": []}
    _SHIFT_SEEN[id(db)] = mark
    rows = [dict(r) for r in await GdEngineer.raw(
        "SELECT key, shifts, shift_state FROM gd_engineer WHERE active "
        "AND CAST(shifts AS TEXT) NOT IN ('[]', '')")]
    on: list[str] = []
    off: list[str] = []
    for r in rows:
        shifts = r["shifts"]
        if isinstance(shifts, str):
            shifts = json.loads(shifts)
        if not shifts:
            continue
        want = in_shift(shifts, local)
        state = r["shift_state"]
        if state is None or bool(state) != want:
            (on if want else off).append(r["key"])
    if on:
        async with db.transaction():
            came = await GdEngineer.update({GdEngineer.on_shift: True, GdEngineer.shift_state: True,
                                            GdEngineer.updated_at: now}).where(
                GdEngineer.key.is_in(on) & ((GdEngineer.shift_state.is_null())
                                            | (GdEngineer.shift_state == False))  # noqa: E712
            ).returning(GdEngineer.key, GdEngineer.load)
            await GdEngineer.update({GdEngineer.idle_since: now}).where(
                GdEngineer.key.is_in([c["key"] for c in came if int(c["load"]) == 0] or [""]))
            await engineers.touch([c["key"] for c in came])
            on = sorted(c["key"] for c in came)
        if on:
            await drain_all_queues(db, settings, "timer", on)
    for key in off:
        async with db.transaction():
            await go_off_shift(key, "timer", now, scheduled=True)
    return {"on": on, "off": sorted(off)}


async def dispatch_tick(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Dispatch's periodic work, called by the timer scheduler on each tick."""
    await shift_tick(db, settings, now)


# --- manual moves ---------------------------------------------------------------------------


async def _engineer(key: str, field: str, force: bool = False) -> dict[str, Any]:
    """The engineer a dispatcher hands a ticket to: 422 when there is no such engineer, 409
    when they are inactive, flagged by org sync as having left, or off shift (off shift
    only without `force`: a dispatcher may knowingly give a ticket to someone off shift)."""
    rows = await GdEngineer.select().where(GdEngineer.key == key)
    if not rows:
        raise invalid(f"工程师 {key} 不存在", f"engineer {key} does not exist",
                      [FieldError(key=field, message_zh="工程师不存在", message_en="no such engineer")])
    row = dict(rows[0])
    if not row["active"]:
        raise conflict(f"工程师 {key} 已停用，不能接单", f"engineer {key} is inactive and cannot take tickets",
                       {"engineer": key, "why": "inactive"})
    if row.get("org_status"):
        raise conflict(f"工程师 {key} 已离职（组织架构同步），不能接单",
                       f"engineer {key} has left (org sync) and cannot take tickets",
                       {"engineer": key, "why": "left", "org_status": row["org_status"]})
    if not row["on_shift"] and not force:
        raise conflict(f"工程师 {key} 不在班；确需转派请加 \"force\": true",
                       f"engineer {key} is off shift; send \"force\": true to hand it over anyway",
                       {"engineer": key, "why": "off_shift"})
    return row


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
                   user: CurrentUser, channel: str = "app", *, transfer_to: str | None = None,
                   force: bool = False) -> dict[str, Any]:
    """Give the ticket to `engineer` (a dispatcher's decision, not held to max_load), with a
    reason, on the record; the engineer it leaves frees up, so the queues are routed. An
    inactive engineer, one who has left, or (without `force`) one off shift is refused (409)."""
    _channel(channel)
    reason = _need_reason(reason)
    async with db.transaction():
        row = await _lock(ticket_id)
        target = await _engineer(engineer, "engineer", force)
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
        await _withdraw_live(ticket_id, now)
        await GdDispatchQueue.delete().where(GdDispatchQueue.ticket_id == ticket_id)
        kind = "transferred" if transfer_to is not None else "reassigned"
        rec.event(kind, channel, {"assignee": old, "team": old_team},
                  {"assignee": engineer, "team": target["team"]},
                  {"reason": reason, "cross_team": old_team != target["team"],
                   **({"forced_off_shift": True} if not target["on_shift"] else {})})
        await rec.save()
        if old:
            await drain(user.name, {old}, skip=ticket_id)
    return tickets.ticket_out(await tickets._get_row(ticket_id), settings, ctx.machine)


async def transfer(db: Database, settings: Settings, ticket_id: int, team: str, reason: str,
                   user: CurrentUser, channel: str = "app", engineer: str | None = None,
                   force: bool = False) -> dict[str, Any]:
    """Hand the ticket to another team: to one of its engineers (checked as `reassign`
    does), or routed among the team (its rules pick only who can take it)."""
    if engineer:
        return await reassign(db, settings, ticket_id, engineer, reason, user, channel, transfer_to=team,
                              force=force)
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
        await _withdraw_live(ticket_id, now)
        rec.event("transferred", channel, {"assignee": old, "team": old_team}, {"assignee": None, "team": team},
                  {"reason": reason, "cross_team": old_team != team})
        result = await route(ctx, rec, reason="transfer", team=team, exclude={old} if old else set())
        await rec.save()
        if old:
            await drain(user.name, {old}, skip=ticket_id)
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
                                              "claim_within", "escalate_after", "escalate_to", "team",
                                              "bypass_queue", "load_limit_lifted")},
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
    now = now_utc()
    out = []
    for o in live:
        expires = _aware(o["expires_at"])
        if expires is not None and expires <= now:
            continue  # the claim window is over (its timer is about to offer it to others)
        t = await tickets._get_row(o["ticket_id"])
        out.append({"ticket": t["id"], "number": t["number"], "line": t["line_key"], "tier": t["tier"],
                    "title": (t["fields"] or {}).get("title"), "round": o["round"],
                    "expires_at": tickets.iso(o["expires_at"], tz)})
    return out
