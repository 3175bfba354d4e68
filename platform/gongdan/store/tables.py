"""The Piccolo tables. Schema changes go through a migration in `migrations/`."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class GdUser(Table, tablename="gd_user"):
    """A person or system account with one role."""

    id = Serial(primary_key=True)
    name = Varchar(length=100, unique=True)
    display_name = Varchar(length=200, default="")
    role = Varchar(length=20)
    profile = JSON(default="{}")  # engineer attributes: skills, team, max_load, region, ...
    active = Boolean(default=True)
    created_at = Timestamptz()


class GdToken(Table, tablename="gd_token"):
    """An API token, stored as its SHA-256 (the token itself is shown once)."""

    id = Serial(primary_key=True)
    user_id = Integer(index=True)
    token_hash = Varchar(length=64, unique=True)
    label = Varchar(length=200, default="")
    created_at = Timestamptz()
    revoked = Boolean(default=False)


class GdLine(Table, tablename="gd_line"):
    """A business line (维修, 售后, ...): its form, states and active ruleset."""

    id = Serial(primary_key=True)
    key = Varchar(length=64, unique=True)
    name = Varchar(length=200)
    prefix = Varchar(length=16)
    form_version = Integer(default=0)
    states = JSON(null=True, default=None)
    rules_version = Integer(null=True, default=None)
    created_at = Timestamptz()


class GdForm(Table, tablename="gd_form"):
    """One version of a line's form: its fields and the JSON Schema built from them."""

    id = Serial(primary_key=True)
    line_key = Varchar(length=64, index=True)
    version = Integer()
    fields = JSON()
    json_schema = JSON()
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz()


class GdRuleset(Table, tablename="gd_ruleset"):
    """One uploaded version of a line's `.rules` source."""

    id = Serial(primary_key=True)
    line_key = Varchar(length=64, index=True)
    version = Integer()
    name = Varchar(length=200, default="")
    source = Text()
    form_version = Integer(default=0)
    diagnostics = JSON(default="[]")
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz()


class GdAudit(Table, tablename="gd_audit"):
    """Administrative changes (forms, states, ruleset activation): append-only."""

    id = Serial(primary_key=True)
    at = Timestamptz()
    actor = Varchar(length=100)
    action = Varchar(length=64)
    line_key = Varchar(length=64, default="", index=True)
    detail = JSON(default="{}")


class GdTicket(Table, tablename="gd_ticket"):
    """A ticket: its form fields, state, SLA and optimistic-locking version."""

    id = Serial(primary_key=True)
    number = Varchar(length=40, unique=True)
    line_key = Varchar(length=64, index=True)
    form_version = Integer()
    rules_version = Integer(null=True, default=None)
    state = Varchar(length=64, index=True)
    fields = JSON()
    facts = JSON(default="{}")  # attachments, customer_signature, root_cause_recorded
    tier = Varchar(length=32, null=True, default=None, index=True)
    sla = JSON(null=True, default=None)
    respond_by = Timestamptz(null=True, default=None)
    resolve_by = Timestamptz(null=True, default=None)
    assignee = Varchar(length=100, null=True, default=None, index=True)
    customer_phone = Varchar(length=40, default="", index=True)
    search_text = Text(default="")
    version = Integer(default=1)
    last_seq = Integer(default=0)
    idempotency_key = Varchar(length=200, null=True, default=None, unique=True)
    idempotency_hash = Varchar(length=64, null=True, default=None)  # sha256 of line + body
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()


class GdEvent(Table, tablename="gd_event"):
    """One entry of a ticket's append-only record; (ticket_id, seq) is unique."""

    id = Serial(primary_key=True)
    ticket_id = Integer(index=True)
    seq = Integer()
    type = Varchar(length=64)
    at = Timestamptz()
    actor = Varchar(length=100)
    channel = Varchar(length=16)
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
    data = JSON(default="{}")


class GdCounter(Table, tablename="gd_counter"):
    """Ticket-number counters, one row per line and day (`repair:20261125`)."""

    id = Serial(primary_key=True)
    key = Varchar(length=100, unique=True)
    last = Integer(default=0)


class GdEngineer(Table, tablename="gd_engineer"):
    """A field engineer (also a `gd_user` with role engineer, `key` = the user's name, which is
    what a ticket's `assignee` holds). `load` is the count of their open assigned tickets,
    changed inside the transactions that assign and close."""

    id = Serial(primary_key=True)
    key = Varchar(length=100, unique=True)
    name = Varchar(length=200, default="")
    skills = JSON(default="{}")
    certifications = JSON(default="[]")
    team = Varchar(length=100, null=True, default=None, index=True)
    supervisor = Varchar(length=100, null=True, default=None)
    region = Varchar(length=6, null=True, default=None)
    location = JSON(null=True, default=None)
    location_at = Timestamptz(null=True, default=None)
    shifts = JSON(default="[]")
    on_shift = Boolean(default=False)
    max_load = Integer(default=5)
    load = Integer(default=0)
    idle_since = Timestamptz(null=True, default=None)
    recent = JSON(default="[]")  # the last assignments' ticket fields, newest first (fatigue)
    phone = Varchar(length=20, default="")
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    rev = Integer(default=0, index=True)  # roster revision of the last change (routing caches)


class GdOffer(Table, tablename="gd_offer"):
    """A ticket offered to an engineer: live -> claimed | withdrawn | expired | declined."""

    id = Serial(primary_key=True)
    ticket_id = Integer(index=True)
    engineer = Varchar(length=100, index=True)
    round = Integer(default=1)
    state = Varchar(length=16, default="live")
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)


class GdDispatchDecision(Table, tablename="gd_dispatch_decision"):
    """Every routing decision: the pool, the tier and the rules' full `RouteDecision`."""

    id = Serial(primary_key=True)
    ticket_id = Integer(index=True)
    at = Timestamptz()
    reason = Varchar(length=32)
    round = Integer(default=1)
    pool = Varchar(length=200, null=True, default=None)
    tier = Varchar(length=32, null=True, default=None)
    actor = Varchar(length=100, default="")
    decision = JSON(default="{}")


class GdDispatchQueue(Table, tablename="gd_dispatch_queue"):
    """Tickets waiting for an eligible engineer, per line, by tier then deadline."""

    id = Serial(primary_key=True)
    ticket_id = Integer(unique=True)
    line_key = Varchar(length=64, index=True)
    tier = Varchar(length=32, null=True, default=None)
    deadline = Timestamptz(null=True, default=None)
    since = Timestamptz()
    escalated = Boolean(default=False)


class GdOutbox(Table, tablename="gd_outbox"):
    """A message to deliver after commit (the outbox); written in the transaction of the
    change that causes it, rendered at write time."""

    id = Serial(primary_key=True)
    ticket_id = Integer(null=True, default=None, index=True)
    kind = Varchar(length=64, default="")
    template = Varchar(length=100, default="")
    channel = Varchar(length=64)
    recipient = Varchar(length=200, default="")
    subject = Text(default="")
    text = Text(default="")
    markdown = Boolean(default=False)
    idempotency_key = Varchar(length=200, unique=True)
    state = Varchar(length=16, default="pending")  # pending | sending | sent | dead
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    locked_until = Timestamptz(null=True, default=None)
    owner = Varchar(length=100, default="")
    last_error = Text(default="")
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


class GdTimer(Table, tablename="gd_timer"):
    """A durable timer: fires once at `due_at` (SLA warnings and breaches, dwell alerts,
    claim time-outs, archive)."""

    id = Serial(primary_key=True)
    due_at = Timestamptz()
    kind = Varchar(length=32)
    ticket_id = Integer(null=True, default=None)
    payload = JSON(default="{}")
    state = Varchar(length=16, default="pending")  # pending | fired | cancelled
    created_at = Timestamptz()
    fired_at = Timestamptz(null=True, default=None)
    owner = Varchar(length=100, default="")


class GdCalendar(Table, tablename="gd_calendar"):
    """A business calendar by name (`on calendar "工作日"` in the rules)."""

    id = Serial(primary_key=True)
    name = Varchar(length=100, unique=True)
    data = JSON()
    updated_by = Varchar(length=100, default="")
    updated_at = Timestamptz()


ALL_TABLES: list[type[Table]] = [
    GdUser,
    GdToken,
    GdLine,
    GdForm,
    GdRuleset,
    GdAudit,
    GdTicket,
    GdEvent,
    GdCounter,
    GdEngineer,
    GdOffer,
    GdDispatchDecision,
    GdDispatchQueue,


    GdOutbox,
    GdTimer,
    GdCalendar,
]
