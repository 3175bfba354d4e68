"""Tickets: create, read, look up, change fields, apply events, move, and the timeline.

Every mutation is one transaction that first locks the ticket row (a no-op UPDATE: a row
lock on PostgreSQL; on SQLite the IMMEDIATE transaction already holds the write lock),
then writes the ticket and its append-only events together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.query import WhereRaw

from gongdan import plugins, rules_runtime
from gongdan.auth import OWN_TICKETS_ONLY
from gongdan.domain.lines import services as lines
from gongdan.domain.lines.forms import apply_defaults, canonicalize, field_errors, search_text, validator_for
from gongdan.domain.lines.states import StateMachine, machine_from_json
from gongdan.domain.tickets import deadlines
from gongdan.domain.users.services import CurrentUser
from gongdan.errors import ApiError, FieldError, conflict, invalid, not_found
from gongdan.outbox import service as outbox
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdCounter, GdEvent, GdTicket
from gongdan.timers import arming as timers
from gongdan.timers import clock

CLIENT_CHANNELS = ("app", "voice", "api", "qr")
CHANNELS = (*CLIENT_CHANNELS, "rule", "timer", "callback")
ATTACHMENT_EVENTS = {"photo", "video", "attachment", "file"}
SIGNATURE_EVENTS = {"customer_signature", "signature", "customer_signed"}
ROOT_CAUSE_EVENTS = {"root_cause", "root_cause_recorded"}
# Written by the platform itself; a client may not post these as events.
PLATFORM_EVENTS = {"created", "fields_changed", "sla_changed", "assigned", "state_changed"}
# Events only their own verified path may record: the customer's survey page, and a
# provider's signed approval callback (so neither an answer nor an approval can be forged
# through POST /api/tickets/{id}/events).
RESERVED_EVENTS = {"survey_answered": "survey", "approval_passed": "callback",
                   "approval_rejected": "callback"}
_JSON_COLUMNS = ("fields", "facts", "sla", "before", "after", "data")


def now_utc() -> dt.datetime:
    """The current time, aware, in UTC (`gongdan.timers.clock`: injectable in tests)."""
    return clock.now()


def iso(value: dt.datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 to the second with the zone (`2026-11-25T09:30:00+08:00`)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz).isoformat(timespec="seconds")


def normalize_phone(phone: str) -> str:
    """Digits only, without a leading +86/86 on mobile numbers, for look-ups."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def check_channel(channel: str, *, allowed: tuple[str, ...] = CLIENT_CHANNELS) -> str:
    """422 unless `channel` is one a client may use."""
    if channel not in allowed:
        raise invalid(
            f"渠道 {channel!r} 无效，可用：{'、'.join(allowed)}",
            f"invalid channel {channel!r}; use one of {', '.join(allowed)}",
            [FieldError(key="channel", message_zh="渠道无效", message_en="invalid channel")],
        )
    return channel


def _load(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_COLUMNS:
        value = row.get(key)
        if isinstance(value, str):
            row[key] = json.loads(value)
    return row


def _announce(ticket: dict[str, Any], events: list[GdEvent], machine: StateMachine | None
              ) -> None:
    """The plugins' event hooks, AFTER commit (`plugins.announce`; failures logged)."""
    closed = machine.closed_keys() if machine else []
    plugins.announce(ticket, events, closed_states=closed)


class LineContext:
    """What handling a ticket needs from its line: form, states, active ruleset."""

    def __init__(self, line: dict[str, Any], form: dict[str, Any] | None,
                 machine: StateMachine | None) -> None:
        self.line = line
        self.key: str = line["key"]
        self.form = form
        self.machine = machine
        self._rules: Any = None

    @property
    def rules(self) -> Any | None:
        """The compiled active ruleset, or None when the line has none."""
        version = self.line.get("rules_version")
        if not version:
            return None
        if self._rules is None:
            self._rules = _compiled(self.key, int(version), self.form)
        return self._rules


_RULES_SOURCES: dict[tuple[str, int], str] = {}


def _compiled(line: str, version: int, form: dict[str, Any] | None) -> Any:
    source = _RULES_SOURCES.get((line, version))
    if source is None:
        raise RuntimeError("source not loaded")  # _context() loads it first
    return rules_runtime.get(line, version, source, form["schema"] if form else None)


_FORMS: dict[tuple[str, int], dict[str, Any]] = {}


def clear_caches() -> None:
    """Forget every per-(line, version) cache: forms, validators, rules sources, compiled
    rulesets. Versions never change within one database, so the caches are only ever
    wrong when a process opens another database (tests do; `create_app` calls this)."""
    from gongdan.domain.lines import forms

    _FORMS.clear()
    _RULES_SOURCES.clear()
    forms.clear_cache()
    rules_runtime.clear_cache()


async def _context(line_key: str, form_version: int | None = None) -> LineContext:
    line = await lines.get_line(line_key)
    version = form_version or int(line["form_version"])
    form = None
    if version:
        form = _FORMS.get((line_key, version))
        if form is None:
            form = await lines.get_form(line_key, version)
            _FORMS[(line_key, version)] = form
    rv = line.get("rules_version")
    if rv and (line_key, int(rv)) not in _RULES_SOURCES:
        _RULES_SOURCES[(line_key, int(rv))] = (await lines.get_rules(line_key, int(rv)))["source"]
    return LineContext(line, form, machine_from_json(line["states"]))


def ticket_out(row: dict[str, Any], settings: Settings, machine: StateMachine | None = None
               ) -> dict[str, Any]:
    """The API view of a ticket row."""
    tz = ZoneInfo(settings.timezone)
    facts = row.get("facts") or {}
    sla = row.get("sla")
    sla_out = None
    if sla:
        sla_out = {
            "tier": sla["tier"],
            "label": sla.get("label"),
            "respond_by": iso(row.get("respond_by"), tz),
            "resolve_by": iso(row.get("resolve_by"), tz),
            "calendar": sla.get("calendar"),
            "pause_states": sla.get("pause_states", []),
            "bypass_queue": sla.get("bypass_queue", False),
        }
    return {
        "id": row["id"],
        "number": row["number"],
        "line": row["line_key"],
        "state": row["state"],
        "state_category": machine.category(row["state"]) if machine else None,
        "fields": row["fields"],
        "sla": sla_out,
        "assignee": row.get("assignee"),
        "attachments": facts.get("attachments", []),
        "customer_signature": bool(facts.get("customer_signature")),
        "root_cause_recorded": bool(facts.get("root_cause_recorded", False)),
        "version": row["version"],
        "form_version": row["form_version"],
        "rules_version": row.get("rules_version"),
        "created_by": row.get("created_by"),
        "created_at": iso(row["created_at"], tz),
        "updated_at": iso(row["updated_at"], tz),
    }


def _validate(ctx: LineContext, values: dict[str, Any]) -> None:
    if ctx.form is None:
        raise conflict(f"业务线 {ctx.key} 还没有表单", f"line {ctx.key} has no form yet")
    schema = ctx.form["schema"]
    validator = validator_for(ctx.key, int(ctx.form["version"]), schema)
    errors = field_errors(validator, schema, values)
    if errors:
        raise invalid(
            f"工单有 {len(errors)} 个字段不正确",
            f"{len(errors)} field(s) of the ticket are invalid",
            errors,
        )


def _day(now: dt.datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).strftime("%Y%m%d")


async def _assign_number(db: Database, ctx: LineContext, ticket_id: int, day: str) -> str:
    """Take the line's next number for `day` and give it to the ticket, as the LAST write
    of the creating transaction.

    The counter row is locked from this statement until COMMIT, so creates for one line
    and day queue here; keeping it last keeps that queue short. Numbers are gapless because
    a transaction that fails rolls its increment back with it."""
    key, prefix = f"{ctx.key}:{day}", f"{ctx.line['prefix']}-{day}-"
    if not db.is_sqlite:
        rows = await GdTicket.raw(
            "WITH c AS (INSERT INTO gd_counter (key, last) VALUES ({}, 1) "
            "ON CONFLICT (key) DO UPDATE SET last = gd_counter.last + 1 RETURNING last) "
            "UPDATE gd_ticket SET number = {}::text || CASE WHEN c.last < 10000 "
            "THEN lpad(c.last::text, 4, '0') ELSE c.last::text END, "
            "search_text = lower({}::text) || CASE WHEN c.last < 10000 "
            "THEN lpad(c.last::text, 4, '0') ELSE c.last::text END || ' ' || search_text "
            "FROM c WHERE gd_ticket.id = {} RETURNING gd_ticket.number",
            key, prefix, prefix, ticket_id,
        )
        return str(rows[0]["number"])
    number = await _next_number_sqlite(ctx, day)
    await GdTicket.raw(
        "UPDATE gd_ticket SET number = {}, search_text = {} || ' ' || search_text WHERE id = {}",
        number, number.lower(), ticket_id,
    )
    return number


async def _next_number_sqlite(ctx: LineContext, day: str) -> str:
    """SQLite: the line's next number for `day`. The writing transaction holds the
    database's write lock from BEGIN IMMEDIATE to COMMIT, so where in it the counter is
    taken does not change how long others wait: create takes it first and inserts the
    ticket with its number (one UPDATE fewer)."""
    rows = await GdCounter.raw(
        "INSERT INTO gd_counter (key, last) VALUES ({}, 1) "
        "ON CONFLICT (key) DO UPDATE SET last = gd_counter.last + 1 RETURNING last",
        f"{ctx.key}:{day}",
    )
    return f"{ctx.line['prefix']}-{day}-{int(rows[0]['last']):04d}"


def _event(ticket_id: int, seq: int, type_: str, at: dt.datetime, actor: str, channel: str,
           before: Any = None, after: Any = None, data: dict[str, Any] | None = None) -> GdEvent:
    return GdEvent(ticket_id=ticket_id, seq=seq, type=type_, at=at, actor=actor,
                   channel=channel, before=before, after=after, data=data or {})


async def _by_idempotency_key(key: str) -> dict[str, Any] | None:
    rows = await GdTicket.select().where(GdTicket.idempotency_key == key).output(load_json=True)
    return rows[0] if rows else None


def _request_hash(line_key: str, channel: str, body: dict[str, Any]) -> str:
    """What an `Idempotency-Key` is tied to: the line, the channel and the body as sent
    (key order does not matter)."""
    canonical = json.dumps({"line": line_key, "channel": channel, "body": body},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _key_expired(found: dict[str, Any], settings: Settings, now: dt.datetime) -> bool:
    created = found["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return now - created > dt.timedelta(hours=settings.idempotency_ttl_hours)


async def _replay(found: dict[str, Any], fingerprint: str, settings: Settings,
                  idempotency_key: str) -> tuple[dict[str, Any], bool]:
    """The first ticket made with this key, or 422 if the key came with another request."""
    stored = found.get("idempotency_hash")
    if stored is not None and stored != fingerprint:
        raise ApiError(
            422,
            f"幂等键 {idempotency_key!r} 已用于另一个请求（工单 {found['number']}）："
            "同一个键只能用同样的业务线和内容重试；新请求请换一个键",
            f"Idempotency-Key {idempotency_key!r} was first used with another request "
            f"(ticket {found['number']}): a key may only be retried with the same line and "
            "body; use a new key for a new request",
            [FieldError(key="Idempotency-Key", message_zh="幂等键已用于另一个请求",
                        message_en="key already used with a different request")],
            {"ticket": found["id"], "number": found["number"]},
        )
    ctx = await _context(found["line_key"], found["form_version"])
    return ticket_out(found, settings, ctx.machine), False


async def create_ticket(
    db: Database, settings: Settings, line_key: str, body: dict[str, Any], user: CurrentUser,
    channel: str = "api", idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Validate, classify, number and store a ticket. Returns (ticket, created); with an
    `idempotency_key` already used by this caller with the same request (line, channel,
    body) within `GONGDAN_IDEMPOTENCY_TTL_HOURS`, returns the first ticket and False; with
    another request, 422. An expired key is given to the new ticket."""
    check_channel(channel)
    idem = f"{user.id}:{idempotency_key}" if idempotency_key else None
    fingerprint = _request_hash(line_key, channel, body) if idem else None
    if idem and fingerprint and idempotency_key:
        found = await _by_idempotency_key(idem)
        if found is not None and not _key_expired(found, settings, now_utc()):
            return await _replay(found, fingerprint, settings, idempotency_key)
    ctx = await _context(line_key)
    if ctx.machine is None:
        raise conflict(f"业务线 {line_key} 还没有状态机", f"line {line_key} has no states yet")
    values = canonicalize(body, ctx.form)  # the form version's own synonyms too
    if ctx.form is not None:
        values = apply_defaults(ctx.form["fields"], values)
    _validate(ctx, values)
    state = ctx.machine.initial
    rs = ctx.rules
    decision = rs.classify(rules_runtime.rules_ticket(values, state, {})) if rs else None
    tz = ZoneInfo(settings.timezone)
    now = now_utc()
    sla, respond_by, resolve_by = await deadlines.for_new_ticket(decision, state, now)
    day = _day(now, tz)
    row: dict[str, Any] = {
        "line_key": ctx.key, "form_version": int(ctx.form["version"]),
        "rules_version": ctx.line.get("rules_version") if rs else None, "state": state,
        "fields": values, "facts": {}, "tier": sla["tier"] if sla else None, "sla": sla,
        "respond_by": respond_by, "resolve_by": resolve_by, "assignee": None,
        "customer_phone": normalize_phone(str(values.get("customer_phone", ""))),
        "version": 1, "last_seq": 1, "idempotency_key": idem,
        "idempotency_hash": fingerprint, "created_by": user.name,
        "created_at": now, "updated_at": now,
    }
    try:
        async with db.transaction():
            if idem and (found := await _by_idempotency_key(idem)) is not None:
                if not _key_expired(found, settings, now):
                    assert fingerprint and idempotency_key
                    return await _replay(found, fingerprint, settings, idempotency_key)
                # the key has expired: the old ticket lets go of it, the new one takes it
                await GdTicket.update({GdTicket.idempotency_key: None}).where(
                    GdTicket.id == found["id"])
            if db.is_sqlite:
                number = await _next_number_sqlite(ctx, day)
                text = search_text(number, values)
            else:  # PostgreSQL: the counter row's lock is taken last (_assign_number)
                number, text = f"~{uuid.uuid4().hex}", search_text("", values)
            inserted = await GdTicket.insert(
                GdTicket(number=number, search_text=text, **row)
            ).returning(GdTicket.id)
            row["id"] = inserted[0]["id"]
            created = _event(row["id"], 1, "created", now, user.name, channel, None,
                             {"state": state, "fields": values, "sla": sla},
                             {"rules_version": ctx.line.get("rules_version")})
            await GdEvent.insert(created)
            if rs is not None:  # route and offer in the same transaction (dispatch)
                from gongdan.domain.dispatch import services as dispatch

                await dispatch.route_new_ticket(ctx, row, user.name)
            record = [{"type": "created", "at": now, "after": {"state": state, "sla": sla}}]
            row.update(await _rearm(settings, ctx, row["id"], state, now, created=(row, record)))
            row["number"] = (number if db.is_sqlite
                             else await _assign_number(db, ctx, row["id"], day))
    except ApiError:
        raise
    except Exception as exc:
        # two retries with one Idempotency-Key raced: the loser returns the winner's ticket
        message = str(exc).lower()
        if idem and fingerprint and idempotency_key and (
                "unique" in message or "duplicate" in message):
            found = await _by_idempotency_key(idem)
            if found is not None:
                return await _replay(found, fingerprint, settings, idempotency_key)
        raise
    out = ticket_out(row, settings, ctx.machine)
    _announce(out, [created], ctx.machine)
    return out, True


async def _get_row(ticket_id: int) -> dict[str, Any]:
    rows = await GdTicket.select().where(GdTicket.id == ticket_id).output(load_json=True)
    if not rows:
        raise not_found("工单", "ticket", ticket_id)
    return rows[0]


def _visible(row: dict[str, Any], user: CurrentUser) -> bool:
    return user.role not in OWN_TICKETS_ONLY or row.get("assignee") == user.name


async def get_ticket(settings: Settings, ticket_id: int, user: CurrentUser) -> dict[str, Any]:
    """One ticket; engineers get 404 for tickets not assigned to them."""
    row = await _get_row(ticket_id)
    if not _visible(row, user):
        raise not_found("工单", "ticket", ticket_id)
    ctx = await _context(row["line_key"], row["form_version"])
    return ticket_out(row, settings, ctx.machine)


async def list_tickets(
    settings: Settings, user: CurrentUser, *, line: str | None = None, state: str | None = None,
    tier: str | None = None, assignee: str | None = None, q: str | None = None,
    created_from: dt.datetime | None = None, created_to: dt.datetime | None = None,
    phone: str | None = None, limit: int = 50, offset: int = 0, overdue: bool = False,
    count: bool = False,
) -> dict[str, Any]:
    """Tickets matching every given filter, newest first. `overdue`: only tickets not in a
    closed state whose resolve-by is past, or that are unassigned past their respond-by.
    `count`: also `total`, how many match (ignoring limit and offset)."""
    conds: list[Any] = []
    if overdue:
        conds.append(await _overdue_condition(line))
    if line:
        conds.append(GdTicket.line_key == line)
    if state:
        conds.append(GdTicket.state == state)
    if tier:
        conds.append(GdTicket.tier == tier)
    if assignee:
        conds.append(GdTicket.assignee == assignee)
    if user.role in OWN_TICKETS_ONLY:
        conds.append(GdTicket.assignee == user.name)
    if q:
        # Piccolo's `like` adds no ESCAPE clause, and SQLite has no default escape
        # character: spell it out so `_`, `%` and `\` match themselves on both engines.
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(WhereRaw("search_text LIKE {} ESCAPE '\\'", f"%{escaped}%"))
    if created_from:
        conds.append(GdTicket.created_at >= created_from)
    if created_to:
        conds.append(GdTicket.created_at < created_to)
    if phone is not None:
        conds.append(GdTicket.customer_phone == normalize_phone(phone))
    limit = max(1, min(limit, 500))
    query = GdTicket.select().order_by(GdTicket.id, ascending=False).limit(limit + 1)
    if offset:
        query = query.offset(max(0, offset))
    if conds:
        query = query.where(*conds)
    rows = await query.output(load_json=True)
    machines: dict[str, StateMachine | None] = {}
    items = []
    for row in rows[:limit]:
        if row["line_key"] not in machines:
            machines[row["line_key"]] = (await _context(row["line_key"])).machine
        items.append(ticket_out(row, settings, machines[row["line_key"]]))
    out = {"items": items, "limit": limit, "offset": offset, "more": len(rows) > limit}
    if count:
        counted = GdTicket.count()
        out["total"] = await (counted.where(*conds) if conds else counted)
    return out


async def _overdue_condition(line: str | None) -> Any:
    """Not in a closed state of its line, and past resolve-by (or unassigned past
    respond-by): what the board marks 已超时."""
    from gongdan.store.tables import GdLine

    query = GdLine.select(GdLine.key, GdLine.states)
    if line:
        query = query.where(GdLine.key == line)
    open_cond: Any = None
    for row in await query.output(load_json=True):
        machine = machine_from_json(row["states"])
        closed = machine.closed_keys() if machine else []
        cond = GdTicket.line_key == row["key"]
        if closed:
            cond = cond & GdTicket.state.not_in(closed)
        open_cond = cond if open_cond is None else open_cond | cond
    if open_cond is None:  # no such line: nothing matches
        return GdTicket.id < 0
    now = now_utc()
    late = (GdTicket.resolve_by < now) | (GdTicket.assignee.is_null()
                                          & (GdTicket.respond_by < now))
    return open_cond & late


async def _lock(ticket_id: int, user: CurrentUser) -> dict[str, Any]:
    rows = await GdTicket.raw(
        "UPDATE gd_ticket SET last_seq = last_seq WHERE id = {} RETURNING *", ticket_id
    )
    if not rows or not _visible(rows[0], user):
        raise not_found("工单", "ticket", ticket_id)
    return _load(dict(rows[0]))


def _stale(row: dict[str, Any], version: int) -> ApiError:
    return conflict(
        f"工单已被修改（当前版本 {row['version']}，请求版本 {version}），请刷新后重试",
        f"the ticket has changed (current version {row['version']}, yours {version}); "
        "reload and retry",
        {"current_version": row["version"]},
    )


async def update_ticket(
    db: Database, settings: Settings, ticket_id: int, version: int, fields: dict[str, Any],
    user: CurrentUser, *, assignee: Any = ..., channel: str = "api",
) -> dict[str, Any]:
    """Change fields (and/or the assignee) at `version`; 409 when `version` is stale.
    A `null` value removes an optional field. The SLA is classified again."""
    check_channel(channel)
    async with db.transaction():
        row = await _lock(ticket_id, user)
        if row["version"] != version:
            raise _stale(row, version)
        ctx = await _context(row["line_key"], row["form_version"])
        changes = canonicalize(fields, ctx.form)
        new_fields = dict(row["fields"])
        for key, value in changes.items():
            if value is None:
                new_fields.pop(key, None)
            else:
                new_fields[key] = value
        _validate(ctx, new_fields)
        old = row["fields"]
        before = {k: old.get(k) for k in changes if old.get(k) != new_fields.get(k)}
        after = {k: new_fields.get(k) for k in before}
        now = now_utc()
        seq = row["last_seq"]
        events: list[GdEvent] = []
        values: dict[Any, Any] = {}
        if before:
            seq += 1
            events.append(_event(ticket_id, seq, "fields_changed", now, user.name, channel,
                                 before, after))
            values[GdTicket.fields] = new_fields
            values[GdTicket.search_text] = search_text(row["number"], new_fields)
            values[GdTicket.customer_phone] = normalize_phone(
                str(new_fields.get("customer_phone", "")))
            rs = ctx.rules
            if rs is not None:
                decision = rs.classify(rules_runtime.rules_ticket(new_fields, row["state"],
                                                                  row["facts"] or {}))
                old_tier = (row["sla"] or {}).get("tier")
                new_tier = decision.tier if decision is not None else None
                if new_tier != old_tier:
                    sla, respond_by, resolve_by = await deadlines.for_reclassified(
                        ticket_id, row["created_at"], decision, now)
                    seq += 1
                    events.append(_event(ticket_id, seq, "sla_changed", now, user.name, "rule",
                                         {"sla": row["sla"]}, {"sla": sla},
                                         {"rules_version": ctx.line.get("rules_version"),
                                          "fields": sorted(before)}))
                    values.update({GdTicket.sla: sla, GdTicket.tier: new_tier,
                                   GdTicket.respond_by: respond_by,
                                   GdTicket.resolve_by: resolve_by})
        if assignee is not ... and assignee != row["assignee"]:
            from gongdan.auth import require

            require(user, "tickets.assign")
            seq += 1
            events.append(_event(ticket_id, seq, "assigned", now, user.name, channel,
                                 {"assignee": row["assignee"]}, {"assignee": assignee}))
            values[GdTicket.assignee] = assignee
            from gongdan.domain.dispatch import services as dispatch

            await dispatch.on_assignee_change(row, row["assignee"], assignee)
        if not events:
            return ticket_out(row, settings, ctx.machine)
        values.update({GdTicket.version: row["version"] + 1, GdTicket.last_seq: seq,
                       GdTicket.updated_at: now})
        await GdTicket.update(values).where(GdTicket.id == ticket_id)
        await GdEvent.insert(*events)
        if GdTicket.tier in values:
            await _rearm(settings, ctx, ticket_id, row["state"], now)
    return ticket_out(await _get_row(ticket_id), settings, ctx.machine)


async def _rearm(settings: Settings, ctx: LineContext, ticket_id: int, state: str,
                 now: dt.datetime, created: tuple[dict[str, Any], list[dict[str, Any]]] | None = None,
                 ) -> dict[str, Any]:
    """Re-arm the ticket's timers after a change of state or tier (same transaction);
    returns the calendar-aware deadlines it wrote (`respond_by`, `resolve_by`). A create
    passes `created` (the row and its record), so nothing is read back."""
    machine = ctx.machine
    closed = machine is not None and machine.category(state) == "closed"
    out = await timers.rearm(ticket_id, rules=ctx.rules, closed=closed, now=now,
                             warn_share=settings.sla_warn_share, created=created)
    return {k: v for k, v in out.items() if k in ("respond_by", "resolve_by")}


def _close_check(ctx: LineContext, ticket: dict[str, Any]) -> list[str]:
    rs = ctx.rules
    if rs is None:
        return []
    result = rs.can_close(ticket)
    return [] if result.ok else list(result.failing)


def _close_refused(failing: list[str]) -> ApiError:
    return conflict(
        f"不能结案：{'、'.join(failing)} 未满足",
        f"cannot close: stage(s) not met: {', '.join(failing)}",
        {"failing": failing},
    )


async def move_ticket(
    db: Database, settings: Settings, ticket_id: int, to: str, version: int, user: CurrentUser,
    channel: str = "app", note: str | None = None,
) -> dict[str, Any]:
    """A manual move, checked against the state machine and, into a closed state, the lock."""
    check_channel(channel)
    async with db.transaction():
        row = await _lock(ticket_id, user)
        if row["version"] != version:
            raise _stale(row, version)
        ctx = await _context(row["line_key"], row["form_version"])
        machine = ctx.machine
        if machine is None or machine.category(to) is None:
            raise invalid(f"状态 {to} 不存在", f"unknown state {to}",
                          [FieldError(key="to", message_zh="状态不存在",
                                      message_en="unknown state")])
        if not machine.allows(row["state"], to):
            allowed = machine.allowed_from(row["state"])
            raise conflict(
                f"不能从 {row['state']} 转到 {to}；可转到：{'、'.join(allowed) or '无'}",
                f"cannot move from {row['state']} to {to}; allowed: {', '.join(allowed) or 'none'}",
                {"allowed": allowed},
            )
        if machine.category(to) == "closed":
            failing = _close_check(ctx, rules_runtime.rules_ticket(row["fields"], row["state"],
                                                                   row["facts"] or {}))
            if failing:
                raise _close_refused(failing)
        now = now_utc()
        seq = row["last_seq"] + 1
        await GdTicket.update({GdTicket.state: to, GdTicket.version: row["version"] + 1,
                               GdTicket.last_seq: seq, GdTicket.updated_at: now}
                              ).where(GdTicket.id == ticket_id)
        moved = _event(ticket_id, seq, "state_changed", now, user.name, channel,
                       {"state": row["state"]}, {"state": to},
                       {"manual": True, **({"note": note} if note else {})})
        await GdEvent.insert(moved)
        from gongdan.domain.dispatch import services as dispatch

        await dispatch.on_state_change(ctx, row, row["state"], to)
        await _rearm(settings, ctx, ticket_id, to, now)
    out = ticket_out(await _get_row(ticket_id), settings, ctx.machine)
    _announce(out, [moved], ctx.machine)
    return out


def _apply_facts(facts: dict[str, Any], etype: str, data: dict[str, Any]) -> dict[str, Any]:
    facts = dict(facts)
    if etype in ATTACHMENT_EVENTS:
        item = {"kind": str(data.get("kind") or etype), **{k: v for k, v in data.items()
                                                          if k != "kind"}}
        facts["attachments"] = [*facts.get("attachments", []), item]
    elif etype in SIGNATURE_EVENTS:
        facts["customer_signature"] = data.get("signature") or data.get("url") or True
    elif etype in ROOT_CAUSE_EVENTS:
        facts["root_cause_recorded"] = True
        if data.get("text") or data.get("root_cause"):
            facts["root_cause"] = data.get("text") or data.get("root_cause")
    return facts


async def post_event(
    db: Database, settings: Settings, ticket_id: int, body: dict[str, Any], user: CurrentUser,
    *, channels: tuple[str, ...] = CLIENT_CHANNELS,
    within: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Record an event and apply the active ruleset's `on` trigger, if one matches.

    The event is recorded even when no trigger matches or the move is refused (by the
    state machine or the close lock); the answer says which. An event type a plugin
    declares (`register_event_types`) is checked against its schema first (422).
    `within(locked_row)` runs in the event's transaction, after the ticket is locked
    (inbound callbacks record their replay guard there); `channels` are the channels
    the caller may use."""
    etype = body.get("type")
    if not isinstance(etype, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", etype):
        raise invalid("事件类型无效", "invalid event type",
                      [FieldError(key="type", message_zh="事件类型必填，字母数字下划线",
                                  message_en="required: letters, digits and _")])
    if etype in PLATFORM_EVENTS:
        raise invalid(f"事件类型 {etype} 由平台记录，不能提交", f"event type {etype} is the platform's own",
                      [FieldError(key="type", message_zh="保留的事件类型",
                                  message_en="reserved event type")])
    channel = check_channel(str(body.get("channel", "api")), allowed=channels)
    data = {k: v for k, v in body.items() if k not in ("type", "channel")}
    if errors := plugins.event_field_errors(etype, data):
        raise invalid(f"事件 {etype} 有 {len(errors)} 个字段不正确",
                      f"{len(errors)} field(s) of the {etype} event are invalid", errors)
    if (only := RESERVED_EVENTS.get(etype)) is not None and channel != only:
        raise invalid(f"事件 {etype} 只能经 {only} 渠道（经过验证的来源）记录",
                      f"event type {etype} is recorded only through the verified {only} channel",
                      [FieldError(key="type", message_zh="保留给经过验证的来源",
                                  message_en="reserved for its verified source")])
    async with db.transaction():
        row = await _lock(ticket_id, user)
        if within is not None:
            await within(row)
        ctx = await _context(row["line_key"], row["form_version"])
        old_facts = row["facts"] or {}
        facts = _apply_facts(old_facts, etype, data)
        now = now_utc()
        seq = row["last_seq"] + 1
        events = [_event(ticket_id, seq, etype, now, user.name, channel, None, None, data)]
        state = row["state"]
        transition: dict[str, Any] | None = None
        refused: dict[str, Any] | None = None
        rs = ctx.rules
        if rs is not None:
            ticket = rules_runtime.rules_ticket(row["fields"], state, facts)
            tr = rs.on_event(ticket, {"type": etype, **data})
            if tr is not None:
                to = tr.to_state
                machine = ctx.machine
                if machine is not None and not machine.allows(state, to):
                    refused = {"reason": "state_machine", "from": state, "to": to}
                elif machine is not None and machine.category(to) == "closed" and (
                    failing := _close_check(ctx, ticket)
                ):
                    refused = {"reason": "close_lock", "from": state, "to": to,
                               "failing": failing}
                else:
                    transition = {"from": state, "to": to, "notify": _notify(tr)}
                    seq += 1
                    events.append(_event(ticket_id, seq, "state_changed", now, user.name, "rule",
                                         {"state": state}, {"state": to},
                                         {"trigger": etype, "trigger_seq": seq - 1,
                                          "rules_version": ctx.line.get("rules_version"),
                                          "notify": transition["notify"]}))
                    state = to
        if refused is not None:
            events[0].data = {**data, "refused": refused}
        values: dict[Any, Any] = {GdTicket.last_seq: seq}
        if facts != old_facts or state != row["state"]:
            values.update({GdTicket.facts: facts, GdTicket.state: state,
                           GdTicket.version: row["version"] + 1, GdTicket.updated_at: now})
        await GdTicket.update(values).where(GdTicket.id == ticket_id)
        await GdEvent.insert(*events)
        from gongdan.domain.dispatch import services as dispatch

        await dispatch.on_event(row, etype, data, user.name, now)  # a check-in moves the engineer
        if state != row["state"]:
            await dispatch.on_state_change(ctx, row, row["state"], state)
        if transition is not None or etype in deadlines.RESPONSE_EVENTS:
            await _rearm(settings, ctx, ticket_id, state, now)
        if transition is not None and transition["notify"]:
            await outbox.transition_notices(
                {**row, "state": state}, from_state=transition["from"], to_state=state,
                notify=transition["notify"], seq=seq, actor=user.name,
                templates_dir=settings.templates_dir, settings=settings)
    ticket = ticket_out(await _get_row(ticket_id), settings, ctx.machine)
    _announce(ticket, events, ctx.machine)
    return {"ticket": ticket, "event_seq": events[0].seq, "transition": transition,
            "refused": refused}


def _notify(tr: Any) -> list[Any]:
    out = []
    for n in getattr(tr, "notify", None) or []:
        if isinstance(n, dict):
            out.append(n)
        elif hasattr(n, "to_dict"):
            out.append(n.to_dict())
        elif hasattr(n, "__dict__"):
            out.append({k: v for k, v in vars(n).items() if not k.startswith("_")})
        else:
            try:
                import msgspec

                out.append(msgspec.to_builtins(n))
            except TypeError:
                out.append(str(n))
    return out


async def timeline(settings: Settings, ticket_id: int, user: CurrentUser) -> dict[str, Any]:
    """The ticket's append-only record, oldest first."""
    row = await _get_row(ticket_id)
    if not _visible(row, user):
        raise not_found("工单", "ticket", ticket_id)
    tz = ZoneInfo(settings.timezone)
    events = (
        await GdEvent.select().where(GdEvent.ticket_id == ticket_id).order_by(GdEvent.seq)
        .output(load_json=True)
    )
    return {
        "ticket": row["id"],
        "number": row["number"],
        "events": [
            {"seq": e["seq"], "type": e["type"], "at": iso(e["at"], tz), "actor": e["actor"],
             "channel": e["channel"], "before": e["before"], "after": e["after"],
             "data": e["data"]}
            for e in events
        ],
    }
