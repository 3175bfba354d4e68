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
    password_hash = Varchar(length=300, default="")  # "" = no password (token sign-in only)


class GdToken(Table, tablename="gd_token"):
    """An API token, stored as its SHA-256 (the token itself is shown once)."""

    id = Serial(primary_key=True)
    user_id = Integer(index=True)
    token_hash = Varchar(length=64, unique=True)
    label = Varchar(length=200, default="")
    created_at = Timestamptz()
    revoked = Boolean(default=False)
    expires_at = Timestamptz(null=True, default=None)  # None = never (CLI/API-made tokens)


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
    # "" or "left": the org chart says they left while they still own open tickets (kept,
    # shown, never routed to); a leaver with none is made inactive (org sync)
    org_status = Varchar(length=16, default="")
    # the on/off state the shift schedule last applied (None: never); a manual on/off-shift
    # holds until the schedule's next boundary
    shift_state = Boolean(null=True, default=None)
    # where and when a location update last routed the queues (throttles those re-routes)
    reroute_location = JSON(null=True, default=None)
    reroute_at = Timestamptz(null=True, default=None)


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
    rank = Integer(default=0)  # the tier's place in the ruleset (P0 first = 0)
    bypass = Boolean(default=False)  # a `bypass queue` tier: ahead of every other


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


class GdPackInstall(Table, tablename="gd_pack_install"):
    """A template pack installed into this database (`gongdan packs install`): its version,
    the lines it made, and what it brought that the platform reads back (the field
    dictionary, message templates, report presets, event types)."""

    id = Serial(primary_key=True)
    pack = Varchar(length=64, unique=True)
    version = Varchar(length=64)
    checksum = Varchar(length=64, default="")
    title = Varchar(length=200, default="")
    line_keys = JSON(default="[]")
    field_dictionary = JSON(default="{}")  # synonym -> canonical key, for the pack's lines
    message_templates = JSON(default="{}")
    report_presets = JSON(default="[]")
    event_types = JSON(default="[]")
    history = JSON(default="[]")  # [{"version", "at", "by", "action"}], oldest first
    installed_by = Varchar(length=100, default="")
    installed_at = Timestamptz()
    updated_at = Timestamptz()
    demo_at = Timestamptz(null=True, default=None)  # when --demo data was written


class GdCallback(Table, tablename="gd_callback"):
    """An inbound callback that became a ticket event, keyed by the verifier's
    `dedup_key` (unique): written in the event's transaction, so a replay is refused
    across restarts."""

    id = Serial(primary_key=True)
    dedup_key = Varchar(length=200, unique=True)
    source = Varchar(length=64)
    event_type = Varchar(length=64)
    ticket_id = Integer(null=True, default=None)
    event_seq = Integer(null=True, default=None)
    received_at = Timestamptz()


class GdApproval(Table, tablename="gd_approval"):
    """An approval started for a ticket at a provider (`key` is `source:approval_id`), so
    the approval's callback finds its ticket without reading the approval's form."""

    id = Serial(primary_key=True)
    key = Varchar(length=300, unique=True)
    source = Varchar(length=64)
    approval_id = Varchar(length=200)
    ticket_id = Integer(index=True)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz()


class GdTeam(Table, tablename="gd_team"):
    """A team, from an org-chart source's department (`key` is `source:department id`)."""

    id = Serial(primary_key=True)
    key = Varchar(length=200, unique=True)
    name = Varchar(length=200, default="")
    parent = Varchar(length=200, null=True, default=None)
    manager = Varchar(length=100, null=True, default=None)
    source = Varchar(length=64, index=True)
    active = Boolean(default=True)
    updated_at = Timestamptz()


class GdOrgMember(Table, tablename="gd_org_member"):
    """A person as an org-chart source knows them (`key` is `source:their id`), linked to
    the user (and engineer) `person`; `fingerprint` makes an unchanged person a no-op."""

    id = Serial(primary_key=True)
    key = Varchar(length=300, unique=True)
    source = Varchar(length=64, index=True)
    source_id = Varchar(length=200)
    person = Varchar(length=100, index=True)
    fingerprint = Varchar(length=64, default="")
    status = Varchar(length=16, default="active")  # active | left | deactivated
    updated_at = Timestamptz()


class GdOrgSync(Table, tablename="gd_org_sync"):
    """Per source: when the last sync started (the next one's `since`) and its summary."""

    id = Serial(primary_key=True)
    source = Varchar(length=64, unique=True)
    since = Timestamptz(null=True, default=None)
    synced_at = Timestamptz(null=True, default=None)
    summary = JSON(default="{}")


class GdLease(Table, tablename="gd_lease"):
    """A named lease, held by one process until `expires_at` (on SQLite, the process that
    runs the timer scheduler and the outbox worker); taken atomically, renewed by its holder."""

    id = Serial(primary_key=True)
    name = Varchar(length=64, unique=True)
    holder = Varchar(length=200, default="")
    expires_at = Timestamptz()
    acquired_at = Timestamptz()


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
    GdPackInstall,
    GdCallback,
    GdApproval,
    GdTeam,
    GdOrgMember,
    GdOrgSync,
    GdLease,
]
