"""Writing to the outbox (inside the caller's transaction) and reading it for admins.

`enqueue()` renders the message from its template NOW, resolves its recipient to the
channel's addresses NOW (`resolve_recipients`: one row per address) and inserts the rows in
the current transaction, so a message exists exactly when the change that causes it
committed, addressed as the roster was then.
Nothing is sent here: the worker (`gongdan.outbox.worker`) delivers after commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from gongdan.errors import FieldError, invalid, not_found
from gongdan.store.tables import GdEngineer, GdOutbox, GdTicket, GdUser
from gongdan.templating import MessageTemplates, TemplateProblem
from gongdan.timers import clock

log = logging.getLogger("gongdan.outbox")
STATES = ("pending", "sending", "sent", "dead")


@functools.lru_cache(maxsize=8)
def templates(override_dir: str = "") -> MessageTemplates:
    """The message templates (built-ins plus `GONGDAN_TEMPLATES_DIR`), one per folder."""
    return MessageTemplates(override_dir=override_dir or None)


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
        people = []
        if ticket.get("assignee"):
            rows = await GdEngineer.select(GdEngineer.supervisor).where(
                GdEngineer.key == ticket["assignee"])
            if rows and rows[0]["supervisor"]:
                people = [str(rows[0]["supervisor"])]
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
    templates_dir: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Render `template` with `context` and write one outbox row in the current transaction.

    `key` is the idempotency key: a second row with the same key is not written (a retried
    change never sends twice). A template that fails to render writes a `dead` row with the
    problem, so an admin sees it; the change itself still commits."""
    now = now or clock.now()
    row: dict[str, Any] = {
        "ticket_id": ticket_id, "kind": kind, "template": template, "channel": channel,
        "recipient": to[:200], "idempotency_key": key, "attempts": 0, "next_attempt_at": now,
        "created_at": now,
    }
    try:
        msg = templates(templates_dir).render(template, context)
        row.update(subject=msg.subject, text=msg.text, markdown=msg.markdown, state="pending")
    except TemplateProblem as exc:
        log.warning("outbox %s: template %s failed: %s", key, template, exc)
        row.update(state="dead", last_error=f"template: {exc}")
    addresses = [to]
    try:
        addresses = await resolve_recipients(to, channel, ticket_id)
    except Unresolved as exc:
        log.warning("outbox %s: recipient %r unresolved for %s: %s", key, to, channel, exc)
        if row["state"] != "dead":
            row.update(state="dead", last_error=f"{UNRESOLVED}{to!r}: {exc}")
    rows = [GdOutbox(**{**row, "recipient": address[:200],
                        "idempotency_key": key if i == 0 else f"{key}:to:{i}"})
            for i, address in enumerate(addresses)]
    await GdOutbox.insert(*rows).on_conflict(
        target=GdOutbox.idempotency_key, action="DO NOTHING")


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


def ticket_context(row: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """What message templates see of a ticket (`ticket.number`, `ticket.title`...)."""
    fields = row.get("fields") or {}

    def iso(v: Any) -> str:
        return v.isoformat(timespec="minutes") if isinstance(v, dt.datetime) else str(v or "")

    return {
        "id": row.get("id"), "number": row.get("number"), "line": row.get("line_key"),
        "title": fields.get("title", ""), "tier": row.get("tier") or "",
        "state": row.get("state"), "assignee": row.get("assignee") or "",
        "respond_by": iso(row.get("respond_by")), "resolve_by": iso(row.get("resolve_by")),
        "customer_phone": fields.get("customer_phone", ""), **extra,
    }


async def transition_notices(
    row: Mapping[str, Any], *, from_state: str, to_state: str, notify: list[dict[str, Any]],
    seq: int, actor: str, templates_dir: str = "",
) -> None:
    """The rules' `then notify` of a transition, one outbox row per notice (in the
    transition's transaction); the key is the ticket and the event's sequence number."""
    ticket = ticket_context(row, state=to_state)
    for i, n in enumerate(notify):
        target = n.get("target") or {}
        await enqueue(
            key=f"ticket:{row['id']}:event:{seq}:notify:{i}", channel=str(n.get("channel")),
            template=str(n.get("template") or "状态变化"),
            context={"ticket": ticket, "from_state": from_state, "to_state": to_state,
                     "actor": actor},
            to=recipient(target, row), kind="notify", ticket_id=int(row["id"]),
            templates_dir=templates_dir,
        )
