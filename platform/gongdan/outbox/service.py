"""Writing to the outbox (inside the caller's transaction) and reading it for admins.

`enqueue()` renders the message from its template NOW, resolves its recipient to the
channel's addresses NOW (`resolve_recipients`: one row per address) and inserts the rows in
the current transaction, so a message exists exactly when the change that causes it
committed, addressed as the roster was then.
Nothing is sent here: the worker (`gongdan.outbox.worker`) delivers after commit.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from gongdan.errors import FieldError, invalid, not_found
from gongdan.settings import Settings
from gongdan.store.tables import GdEngineer, GdForm, GdLine, GdOutbox, GdTicket, GdUser
from gongdan.templating import MessageTemplates, TemplateProblem
from gongdan.timers import clock, escalation

log = logging.getLogger("gongdan.outbox")
STATES = ("pending", "sending", "sent", "dead")


#: the settings `enqueue()` uses when its caller passes none (the scheduler sets them
#: while a timer fires; otherwise they are read from the environment)
SETTINGS: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "gongdan_outbox_settings", default=None)


def current_settings() -> Settings:
    """The settings of this firing or request, else those of the environment."""
    return SETTINGS.get() or Settings.from_env()


@functools.lru_cache(maxsize=64)
def _templates(override_dir: str, packs: tuple[tuple[str, str], ...]) -> MessageTemplates:
    return MessageTemplates(override_dir=override_dir or None, packs=[dict(packs)] if packs else ())


def templates(override_dir: str = "", packs: Mapping[str, str] | None = None) -> MessageTemplates:
    """The message templates: `GONGDAN_TEMPLATES_DIR`, then `packs` (a line's installed pack
    templates), then the built-ins; one environment per combination (compiled once)."""
    return _templates(override_dir, tuple(sorted((packs or {}).items())))


def recipient(target: Mapping[str, Any], ticket: Mapping[str, Any]) -> str:
    """The symbolic `to` of a rules target (`{"kind": "role", "name": "仓储管理员"}`):
    the assignee's user name, the customer's phone, `supervisor`, or `role:<name>`.
    `enqueue()` resolves it to the channel's address kind (see `resolve_recipients`)."""
    kind = str(target.get("kind") or "")
    name = target.get("name")
    if kind == "assignee":
        return str(ticket.get("assignee") or "") or "assignee"
    if kind == "customer":
        fields = ticket.get("fields") or {}
        return str(fields.get("customer_phone") or "") or "customer"
    if kind == "role":
        return f"role:{name}"
    return str(name or kind)


#: profile keys (in `gd_user.profile`) holding a person's address for each kind; a phone
#: is also taken from the engineer's roster row (`gd_engineer.phone`) first
PROFILE_KEYS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "mobile"),
    "email": ("email",),
    "wecom_userid": ("wecom_userid",),
    "dingtalk_userid": ("dingtalk_userid",),
}
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


UNRESOLVED = "permanent: recipient "
TEMPLATE_FAILED = "template: "


class Unresolved(Exception):
    """A recipient that names no address of the channel's kind (written as a dead row)."""


def address_kind(channel: str) -> str:
    """The kind of address `channel`'s connector sends to (its `address_kind`: `phone`,
    `email`, `wecom_userid`, `dingtalk_userid`), or "" for channels that address no
    person (log, group robots, webhooks), which keep the symbolic recipient."""
    try:
        from gongdan.plugins import connector_classes

        cls = connector_classes().get(channel)
    except Exception:  # the worker reports a broken or missing channel when it sends
        return ""
    return str(getattr(cls, "address_kind", "") or "") if cls is not None else ""


async def _people_with_role(role: str) -> list[str]:
    """Active users whose platform role is `role`, or whose profile lists it in `roles`
    (business roles such as 仓储管理员 that are not one of the platform's roles)."""
    rows = await GdUser.select(GdUser.name, GdUser.role, GdUser.profile).where(
        GdUser.active == True  # noqa: E712 - SQL, not Python
    ).order_by(GdUser.name).output(load_json=True)
    out = []
    for r in rows:
        profile = r["profile"] or {}
        if isinstance(profile, str):
            profile = json.loads(profile or "{}")
        roles = profile.get("roles") if isinstance(profile, dict) else None
        if r["role"] == role or (isinstance(roles, list) and role in roles):
            out.append(str(r["name"]))
    return out


async def _address(person: str, kind: str) -> str:
    if kind == "phone":
        rows = await GdEngineer.select(GdEngineer.phone).where(GdEngineer.key == person)
        if rows and rows[0]["phone"]:
            return str(rows[0]["phone"])
    users = await GdUser.select(GdUser.profile).where(GdUser.name == person).output(
        load_json=True)
    profile = (users[0]["profile"] or {}) if users else {}
    if isinstance(profile, str):
        profile = json.loads(profile or "{}")
    for key in PROFILE_KEYS.get(kind, ()):
        if profile.get(key):
            return str(profile[key])
    raise Unresolved(f"{person} has no {kind}" if users or kind == "phone"
                     else f"no user {person}")


async def _ticket(ticket_id: int | None) -> dict[str, Any]:
    if ticket_id is None:
        return {}
    rows = await GdTicket.select(GdTicket.assignee, GdTicket.customer_phone).where(
        GdTicket.id == ticket_id)
    return dict(rows[0]) if rows else {}


async def resolve_recipients(to: str, channel: str, ticket_id: int | None) -> list[str]:
    """The addresses `to` means for `channel`, read now (in the caller's transaction).

    `to` is `supervisor` (the assignee's supervisor, `gd_engineer.supervisor`; with no
    assignee or no supervisor, every active user with role supervisor), `assignee`,
    `customer` (the ticket's customer phone), `role:<X>` (every active user with role X, or
    with X in their profile's `roles` list),
    a user name, or already an address (a phone number for phone channels, an e-mail
    address for e-mail). People's addresses come from `gd_engineer.phone` and the user
    profile keys in :data:`PROFILE_KEYS`. Raises :class:`Unresolved` when no address of
    the channel's kind can be found; channels of no address kind keep `to` as it is."""
    kind = address_kind(channel)
    to = to.strip()
    if not kind:
        return [to]
    if kind == "phone" and _PHONE.match(to):
        return [re.sub(r"[ -]", "", to)]
    if kind == "email" and "@" in to:
        return [to]
    ticket = await _ticket(ticket_id)
    people: list[str]
    if to == "customer":
        phone = str(ticket.get("customer_phone") or "")
        if kind != "phone" or not phone:
            raise Unresolved(f"the customer has no {kind}")
        return [phone]
    if to == "assignee":
        if not ticket.get("assignee"):
            raise Unresolved("the ticket has no assignee")
        people = [str(ticket["assignee"])]
    elif to == "supervisor":
        boss = await escalation.supervisor_of([ticket.get("assignee")])
        people = [boss] if boss else []
        if not people:
            people = await _people_with_role("supervisor")
        if not people:
            raise Unresolved("no supervisor (the assignee has none, no user has that role)")
    elif to.startswith("role:"):
        people = await _people_with_role(to.removeprefix("role:"))
        if not people:
            raise Unresolved(f"no active user has role {to.removeprefix('role:')}")
    elif not to:
        raise Unresolved("no recipient")
    else:
        people = [to]
    out: list[str] = []
    problems: list[str] = []
    for person in people:
        try:
            address = await _address(person, kind)
        except Unresolved as exc:
            problems.append(str(exc))
            continue
        if address not in out:
            out.append(address)
    if not out:
        raise Unresolved("; ".join(problems))
    return out


async def enqueue(
    *,
    key: str,
    channel: str,
    template: str,
    context: Mapping[str, Any],
    to: str = "",
    kind: str = "",
    ticket_id: int | None = None,
    templates_dir: str | None = None,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
    row: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
) -> None:
    """Render `template` and write its outbox rows (one per address) in the current transaction.

    The template sees the one documented context (:func:`message_context`: `ticket`,
    `line`, `event`, `transition`, `engineer`, `customer`, `recipient`, `link`, `now`) plus
    `context`, the names particular to this kind of message (`clock`, `deadline`,
    `reason_zh`…); for a message about a ticket, `ticket` is always the platform's view of
    it. Templates are looked up in `GONGDAN_TEMPLATES_DIR`, then the packs installed for the
    ticket's line, then the built-ins. `row` is the ticket row when the caller holds a
    fresher one than the database (it is read by `ticket_id` otherwise).

    `key` is the idempotency key: a second row with the same key is not written (a retried
    change never sends twice). A template that fails to render (unknown, a syntax error, an
    undefined name, a sandbox violation) or a recipient that does not resolve writes a `dead`
    row with the reason in Chinese and English, so an admin sees it and can retry it; the
    change itself still commits."""
    settings = settings or current_settings()
    tdir = settings.templates_dir if templates_dir is None else templates_dir
    now = now or clock.now()
    base: dict[str, Any] = {
        "ticket_id": ticket_id, "kind": kind, "template": template, "channel": channel,
        "recipient": to[:200], "idempotency_key": key, "attempts": 0, "next_attempt_at": now,
        "created_at": now,
    }
    problem = ""
    addresses = [to]
    try:
        addresses = await resolve_recipients(to, channel, ticket_id)
    except Unresolved as exc:
        log.warning("outbox %s: recipient %r unresolved for %s: %s", key, to, channel, exc)
        problem = f"{UNRESOLVED}{to!r}: {exc}（收件人无法解析 / the recipient does not resolve）"
    ticket_row = dict(row) if row is not None else await _ticket_row(ticket_id)
    packs: dict[str, str] = {}
    if ticket_row:
        from gongdan.packs_install import line_templates

        packs = await line_templates(str(ticket_row.get("line_key") or ""))
    found = templates(tdir, packs)
    shared = await message_context(ticket_row, settings=settings, now=now, event=event,
                                   extra=context)
    rows = []
    for i, address in enumerate(addresses):
        values = {**base, "recipient": address[:200],
                  "idempotency_key": key if i == 0 else f"{key}:to:{i}"}
        try:
            msg = found.render(template, {**shared, "recipient": {
                "to": to, "address": "" if problem else address}})
            values.update(subject=msg.subject, text=msg.text, markdown=msg.markdown,
                          state="pending")
        except TemplateProblem as exc:
            log.warning("outbox %s: template %s failed: %s", key, template, exc)
            values.update(state="dead", last_error=(
                f"{TEMPLATE_FAILED}消息模板“{exc.name}”无法渲染：{exc.message_zh}"
                f"{f'（第 {exc.line} 行）' if exc.line else ''} / message template {exc.name!r} "
                f"failed{f' at line {exc.line}' if exc.line else ''}: {exc.message_en}")[:2000])
        if problem and values["state"] != "dead":
            values.update(state="dead", last_error=problem[:2000])
        rows.append(GdOutbox(**values))
    await GdOutbox.insert(*rows).on_conflict(
        target=GdOutbox.idempotency_key, action="DO NOTHING")


# --------------------------------------------------------------------------- the context


def _when(value: Any, tz: ZoneInfo) -> str:
    """A time as people read it, in the business time zone: `2026-11-25 10:30`."""
    if isinstance(value, str) and value:
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value


async def _ticket_row(ticket_id: int | None) -> dict[str, Any]:
    if ticket_id is None:
        return {}
    rows = await GdTicket.select().where(GdTicket.id == ticket_id)
    if not rows:
        return {}
    row = dict(rows[0])
    for k in ("fields", "facts", "sla"):
        row[k] = _json(row.get(k))
    return row


async def _form_keys(line: str, version: Any) -> list[str]:
    """Every field key of the ticket's form version (so an optional field left empty is
    `None` in a template, not an undefined name)."""
    if not line or not version:
        return []
    rows = await GdForm.select(GdForm.fields, GdForm.json_schema).where(
        (GdForm.line_key == line) & (GdForm.version == int(version)))
    if not rows:
        return []
    keys: list[str] = []
    for f in _json(rows[0]["fields"]) or []:
        if isinstance(f, dict) and f.get("key"):
            keys.append(str(f["key"]))
    schema = _json(rows[0]["json_schema"]) or {}
    keys += [k for k in (schema.get("properties") or {}) if k not in keys]
    return keys


def ticket_link(settings: Settings, ticket: Mapping[str, Any]) -> str:
    """The ticket's address for people (`link`, `ticket.url`): `GONGDAN_PUBLIC_URL` +
    `/admin/board?q=<number>`."""
    return f"{settings.public_url.rstrip('/')}/admin/board?q={ticket.get('number') or ''}"


def survey_link(settings: Settings, ticket: Mapping[str, Any], token: str) -> str:
    """The customer's survey address: `GONGDAN_PUBLIC_URL/survey/<number>?token=<token>`
    (the token is kept in the ticket's `facts.survey_token`; see `survey_token_ok`)."""
    return (f"{settings.public_url.rstrip('/')}/survey/{ticket.get('number') or ''}"
            f"?token={token}")


async def survey_token_ok(number: str, token: str) -> bool:
    """Whether `token` is the survey token of ticket `number` (constant-time compare)."""
    import hmac

    rows = await GdTicket.select(GdTicket.facts).where(GdTicket.number == number)
    facts = _json(rows[0]["facts"]) if rows else None
    kept = str((facts or {}).get("survey_token") or "")
    return bool(kept) and hmac.compare_digest(kept.encode(), str(token).encode())


#: names of the shared context; a message's own names (`context`) cannot replace them
RESERVED = ("ticket", "line", "event", "transition", "engineer", "customer", "recipient",
            "link", "now")


async def message_context(row: Mapping[str, Any] | None, *, settings: Settings,
                          now: dt.datetime, event: Mapping[str, Any] | None = None,
                          extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The context of every message template (documented in docs/templates.md).

    `ticket`: the ticket's form fields flattened (every field of its form version, `None`
    when empty: `ticket.title`, `ticket.customer_phone`, `ticket.site_address`), then the
    platform's values, which win over a field of the same name: `id`, `number`, `line`,
    `state`, `tier`, `assignee`, `respond_by`, `resolve_by`, `created_at` (as
    `2026-11-25 10:30` in `GONGDAN_TIMEZONE`), `sla` (tier, label, respond_by, resolve_by,
    calendar, or None), `fields` (the raw dict), `url`. `line`: key and name. `engineer`:
    the assignee as the rules see them (`id`, `name`, `skills`, `team`, `supervisor`,
    `phone`…), or None. `customer`: id, name, phone. `event`: what caused the message
    (`type` and its data). `transition`: `{from, to, actor}` for a state change, else None.
    `link`: the address the recipient acts on: the survey page for a survey (`survey_url`),
    else the ticket's URL (`ticket.url`). `now`: the time of writing, in the business time zone.
    `recipient` is added per address by `enqueue()`."""
    tz = ZoneInfo(settings.timezone)
    extra = dict(extra or {})
    out: dict[str, Any] = {k: v for k, v in extra.items() if k not in RESERVED}
    ev = dict(event or extra.get("event") or {})
    transition = extra.get("transition")
    if transition is None and "from_state" in extra and "to_state" in extra:
        transition = {"from": extra["from_state"], "to": extra["to_state"],
                      "actor": extra.get("actor") or ""}
    out.update(event=ev, transition=transition, engineer=None, link="",
               now=now.astimezone(tz), recipient={"to": "", "address": ""})
    if not row:
        out["ticket"] = extra.get("ticket")
        out["line"] = None
        out["customer"] = None
        return out
    fields = dict(row.get("fields") or {})
    sla = row.get("sla") or None
    view: dict[str, Any] = dict.fromkeys(await _form_keys(str(row.get("line_key") or ""),
                                                          row.get("form_version")))
    view.update(fields)
    link = ticket_link(settings, row)
    view.update(
        id=row.get("id"), number=row.get("number"), line=row.get("line_key"),
        state=row.get("state"), tier=row.get("tier") or "", assignee=row.get("assignee") or "",
        title=fields.get("title") or "",
        customer_phone=fields.get("customer_phone") or row.get("customer_phone") or "",
        respond_by=_when(row.get("respond_by"), tz), resolve_by=_when(row.get("resolve_by"), tz),
        created_at=_when(row.get("created_at"), tz),
        sla=None if not sla else {
            "tier": sla.get("tier"), "label": sla.get("label"),
            "respond_by": _when(row.get("respond_by"), tz),
            "resolve_by": _when(row.get("resolve_by"), tz), "calendar": sla.get("calendar")},
        fields=fields, url=link,
    )
    out["ticket"] = view
    lines = await GdLine.select(GdLine.key, GdLine.name).where(
        GdLine.key == str(row.get("line_key") or ""))
    out["line"] = {"key": row.get("line_key"), "name": lines[0]["name"] if lines else ""}
    out["customer"] = {"id": fields.get("customer_id"), "name": fields.get("customer_name"),
                       "phone": view["customer_phone"]}
    # the address the recipient acts on: the survey page for a survey, else the ticket
    out["link"] = str(extra.get("survey_url") or link)
    if row.get("assignee"):
        from gongdan.domain.engineers.services import for_rules

        engineers = await GdEngineer.select().where(
            GdEngineer.key == str(row["assignee"])).output(load_json=True)
        if engineers:
            e = dict(engineers[0])
            for k in ("skills", "certifications", "recent", "shifts", "location"):
                e[k] = _json(e.get(k))
            out["engineer"] = {**for_rules(e), "phone": e.get("phone") or ""}
        else:  # a user who is not on the roster (a dispatcher who took it)
            out["engineer"] = {"id": row["assignee"], "name": row["assignee"], "skills": {},
                               "team": None, "supervisor": None, "phone": ""}
    return out


def _out(row: dict[str, Any]) -> dict[str, Any]:
    def iso(v: Any) -> str | None:
        return v.isoformat(timespec="seconds") if isinstance(v, dt.datetime) else None

    return {
        "id": row["id"], "ticket_id": row["ticket_id"], "kind": row["kind"],
        "template": row["template"], "channel": row["channel"], "to": row["recipient"],
        "subject": row["subject"], "text": row["text"], "markdown": bool(row["markdown"]),
        "idempotency_key": row["idempotency_key"], "state": row["state"],
        "attempts": row["attempts"], "next_attempt_at": iso(row["next_attempt_at"]),
        "last_error": row["last_error"], "created_at": iso(row["created_at"]),
        "sent_at": iso(row["sent_at"]),
    }


async def list_messages(state: str | None = None, ticket_id: int | None = None,
                        limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Outbox rows, newest first, optionally in one state or for one ticket."""
    if state is not None and state not in STATES:
        raise invalid(f"状态 {state!r} 无效", f"invalid state {state!r}",
                      [FieldError(key="state", message_zh=f"可用：{'、'.join(STATES)}",
                                  message_en=f"use one of {', '.join(STATES)}")])
    limit = max(1, min(limit, 500))
    query = GdOutbox.select().order_by(GdOutbox.id, ascending=False).limit(limit + 1)
    conds = []
    if state:
        conds.append(GdOutbox.state == state)
    if ticket_id is not None:
        conds.append(GdOutbox.ticket_id == ticket_id)
    if conds:
        query = query.where(*conds)
    if offset:
        query = query.offset(max(0, offset))
    rows = await query
    return {"items": [_out(r) for r in rows[:limit]], "limit": limit, "offset": offset,
            "more": len(rows) > limit}


async def retry(message_id: int) -> dict[str, Any]:
    """Put a dead (or pending) message back in the queue, due now, with a fresh count."""
    rows = await GdOutbox.select().where(GdOutbox.id == message_id)
    if not rows:
        raise not_found("消息", "message", message_id)
    if rows[0]["state"] in ("sent", "sending"):
        from gongdan.errors import conflict

        raise conflict(f"消息状态为 {rows[0]['state']}，不能重试",
                       f"the message is {rows[0]['state']}; only dead or pending ones can be retried",
                       {"state": rows[0]["state"]})
    if rows[0]["state"] == "dead" and str(rows[0]["last_error"] or "").startswith(TEMPLATE_FAILED):
        from gongdan.errors import conflict

        # it has no text to send (the context it was rendered with is not kept)
        raise conflict("这条消息的模板渲染失败，没有可发送的内容；修正模板后，之后的消息会正常发送",
                       "this message's template failed to render, so it has no text to send; "
                       "once the template is fixed, later messages go out",
                       {"last_error": rows[0]["last_error"]})
    values: dict[Any, Any] = {GdOutbox.state: "pending", GdOutbox.attempts: 0,
                              GdOutbox.next_attempt_at: clock.now(), GdOutbox.owner: "",
                              GdOutbox.locked_until: None}
    row = rows[0]
    more: list[str] = []
    if row["state"] == "dead" and str(row["last_error"] or "").startswith(UNRESOLVED):
        # its recipient never resolved: resolve it again now (the profile may be fixed)
        try:
            addresses = await resolve_recipients(row["recipient"], row["channel"],
                                                 row["ticket_id"])
        except Unresolved as exc:
            from gongdan.errors import conflict

            raise conflict(f"收件人 {row['recipient']} 仍无法解析：{exc}",
                           f"recipient {row['recipient']} still does not resolve: {exc}",
                           {"recipient": row["recipient"]}) from None
        values[GdOutbox.recipient] = addresses[0][:200]
        values[GdOutbox.last_error] = ""
        more = addresses[1:]
    await GdOutbox.update(values).where(
        (GdOutbox.id == message_id) & GdOutbox.state.is_in(["dead", "pending"]))
    for i, address in enumerate(more, start=1):
        await GdOutbox.insert(GdOutbox(**{
            **{k: v for k, v in row.items() if k != "id"}, "recipient": address[:200],
            "idempotency_key": f"{row['idempotency_key']}:retry:{i}", "state": "pending",
            "attempts": 0, "next_attempt_at": clock.now(), "owner": "", "locked_until": None,
            "last_error": ""})).on_conflict(target=GdOutbox.idempotency_key, action="DO NOTHING")
    return _out((await GdOutbox.select().where(GdOutbox.id == message_id))[0])


async def transition_notices(
    row: Mapping[str, Any], *, from_state: str, to_state: str, notify: list[dict[str, Any]],
    seq: int, actor: str, templates_dir: str | None = None, settings: Settings | None = None,
) -> None:
    """The rules' `then notify` of a transition, one outbox row per notice (in the
    transition's transaction); the key is the ticket and the event's sequence number."""
    for i, n in enumerate(notify):
        target = n.get("target") or {}
        await enqueue(
            key=f"ticket:{row['id']}:event:{seq}:notify:{i}", channel=str(n.get("channel")),
            template=str(n.get("template") or "状态变化"),
            context={"from_state": from_state, "to_state": to_state, "actor": actor},
            event={"type": "state_changed", "seq": seq, "actor": actor,
                   "from_state": from_state, "to_state": to_state},
            to=recipient(target, row), kind="notify", ticket_id=int(row["id"]),
            templates_dir=templates_dir, settings=settings,
        )
