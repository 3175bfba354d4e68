"""Every hook a gongdan plugin can implement, in one module (the pytest/Datasette model).

Hooks are synchronous and take keyword arguments only; an implementation may accept any
subset of a spec's parameters. Collection hooks are named ``register_*`` and return a
list (or None): the platform concatenates every plugin's list. Event hooks are named in
the past tense (``ticket_created``) and are called after the change is committed; their
return value is ignored. No hook here is ``firstresult``.

The small types the non-connector hooks pass (:class:`EventType`, :class:`OrgSnapshot`,
:class:`InboundCallback`, :class:`CallbackEvent` and the protocols) live here too, so a
plugin imports only ``gongdan.hookspecs``, ``gongdan.plugins`` and ``gongdan.connectors``.
Every spec is documented in ``docs/plugins.md`` (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec
from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    from gongdan.connectors import Connector

__all__ = [
    "APPROVAL_EVENT_TYPES",
    "CallbackEvent",
    "CallbackRejected",
    "CallbackReplayed",
    "CallbackReply",
    "CallbackVerifier",
    "EventType",
    "InboundCallback",
    "OrgDepartment",
    "OrgSnapshot",
    "OrgSource",
    "OrgUser",
    "TemplatePack",
    "VerifiedCallback",
    "hookimpl",
    "hookspec",
]

hookspec = HookspecMarker("gongdan")
hookimpl = HookimplMarker("gongdan")


# ---------------------------------------------------------------------------
# types passed by the hooks


class EventType(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket event type a plugin adds (``approval_passed``, ``parts_requested``...).

    ``schema`` is the JSON Schema of the event's ``fields``; the platform validates every
    event of this type against it. ``name`` must be a lowercase identifier, unique across
    plugins (two plugins may declare the same type only with an identical schema).
    """

    name: str
    title: str
    schema: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "object"})
    description: str = ""


_APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approval_id": {"type": "string"},
        "kind": {"type": "string"},  # the approval's type / template name: 工艺变更, 备件领用
        "approver": {"type": "string"},
        "comment": {"type": "string"},
    },
}

#: ``approval_passed`` and ``approval_rejected``: every plugin whose callbacks produce
#: approval results registers these same two (so their schemas never disagree).
APPROVAL_EVENT_TYPES: list[EventType] = [
    EventType(name="approval_passed", title="审批通过 / approval passed",
              schema=_APPROVAL_SCHEMA),
    EventType(name="approval_rejected", title="审批驳回 / approval rejected",
              schema=_APPROVAL_SCHEMA),
]


@runtime_checkable
class TemplatePack(Protocol):
    """The least a template pack object has; the pack installer documents the rest."""

    name: str
    version: str
    title: str


class OrgDepartment(msgspec.Struct, frozen=True, kw_only=True):
    """A department (becomes a team) as the org chart's source sees it."""

    id: str
    name: str
    parent_id: str | None = None
    leader_ids: tuple[str, ...] = ()


class OrgUser(msgspec.Struct, frozen=True, kw_only=True):
    """A person (becomes an engineer or a supervisor); ids are the source's own."""

    id: str
    name: str
    department_ids: tuple[str, ...] = ()
    mobile: str = ""
    email: str = ""
    title: str = ""
    manager_ids: tuple[str, ...] = ()
    active: bool = True


class OrgSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one fetch from an org source returned.

    ``complete`` is False for an incremental fetch (only what changed since ``since``);
    the sync then never treats an absent person as deleted.
    """

    source: str
    departments: tuple[OrgDepartment, ...] = ()
    users: tuple[OrgUser, ...] = ()
    complete: bool = True


@runtime_checkable
class OrgSource(Protocol):
    """An org-chart source (WeCom, DingTalk, LDAP...). Fetching only: no database."""

    name: str

    def fetch(self, *, since: datetime | None = None) -> OrgSnapshot:
        """The departments and users, all of them, or those changed since ``since``."""
        ...


class InboundCallback(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP callback as received, before anything trusts it.

    ``path`` is the part after ``/callbacks/`` (``webhook``, ``wecom``...); ``headers``
    keys are lower case; ``body`` is the raw bytes (signatures cover the raw body).
    """

    path: str
    method: str = "POST"
    query: dict[str, str] = msgspec.field(default_factory=dict)
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""
    received_at: datetime | None = None


class CallbackEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A verified callback turned into a ticket event (``approval_passed``...).

    ``dedup_key`` is the provider's unique delivery id: the platform stores it and refuses
    a second callback with the same key (replay protection across restarts).
    ``ticket_ref`` is the ticket number the callback is about, when the provider carries
    it; otherwise it is "" and ``approval_id`` names the provider's approval (WeCom
    ``SpNo``, DingTalk ``processInstanceId``), which the platform maps to the ticket that
    opened it.
    """

    event_type: str
    ticket_ref: str = ""
    approval_id: str = ""
    dedup_key: str
    source: str
    fields: dict[str, Any] = msgspec.field(default_factory=dict)
    actor: str = ""
    occurred_at: datetime | None = None


class CallbackReply(msgspec.Struct, frozen=True, kw_only=True):
    """What to answer the provider (some want an echo or an encrypted ``success``)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


class VerifiedCallback(msgspec.Struct, frozen=True, kw_only=True):
    """A callback that passed verification: the ticket event (None when the callback
    means nothing for tickets, e.g. a URL check or a ping) and the reply to send."""

    event: CallbackEvent | None = None
    reply: CallbackReply = msgspec.field(default_factory=CallbackReply)


class CallbackRejected(Exception):
    """A callback failed verification (bad signature, too old, malformed): answer 4xx, log it."""


class CallbackReplayed(CallbackRejected):
    """A callback this verifier has already seen (same signature): answer 409, log it.

    A verifier's own memory of signatures is only a first line: the platform also refuses
    a second event with the same ``dedup_key``, durably (``gd_callback``)."""


@runtime_checkable
class CallbackVerifier(Protocol):
    """Verifies a provider's callbacks and turns them into ticket events."""

    name: str

    def accepts(self, callback: InboundCallback) -> bool:
        """True if this verifier handles the callback (usually: by ``callback.path``)."""
        ...

    def verify(self, callback: InboundCallback) -> VerifiedCallback:
        """The event and the reply, or raise :class:`CallbackRejected` for a forged,
        stale, replayed or malformed callback."""
        ...


# ---------------------------------------------------------------------------
# collection hooks


@hookspec
def register_connectors() -> list[type[Connector]] | None:
    """Channel connectors this plugin provides.

    Return a list of :class:`gongdan.connectors.Connector` subclasses (not instances);
    the platform builds each from its settings with ``cls.from_env()``. A connector's
    ``name`` is the channel used by rules (``notify … via wecom``) and must be unique
    across plugins. All plugins' lists are concatenated; not ``firstresult``.
    """


@hookspec
def register_event_types() -> list[EventType] | None:
    """Ticket event types this plugin adds, each with the JSON Schema of its fields.

    The rules language can then react to them (``on approval_passed``). Lists are
    concatenated; not ``firstresult``.
    """


@hookspec
def register_template_packs() -> list[TemplatePack] | None:
    """Industry template packs (forms, state machines, rulesets, reports, demo data).

    Return pack objects with at least ``name``, ``version`` and ``title``; ``gongdan
    packs list`` shows them and ``gongdan packs install NAME`` installs one. Lists are
    concatenated; not ``firstresult``.
    """


@hookspec
def register_org_sources() -> list[OrgSource] | None:
    """Org-chart sources (departments, users, managers) to sync teams and engineers from.

    Return :class:`OrgSource` objects; the sync job calls ``fetch()`` and writes the
    result idempotently. Lists are concatenated; not ``firstresult``.
    """


@hookspec
def register_callback_verifiers() -> list[CallbackVerifier] | None:
    """Verifiers for inbound callbacks (approval results and the like).

    Return :class:`CallbackVerifier` objects. For each callback the platform asks every
    verifier whether it ``accepts()`` it; exactly one must. Its ``verify()`` checks the
    provider's signature (and decrypts) and returns a :class:`VerifiedCallback`: the
    ticket event, if any, and the reply the provider expects. Lists are concatenated;
    not ``firstresult``.
    """


# ---------------------------------------------------------------------------
# event hooks (past tense; called after commit through gongdan.plugins.fire_event, which
# logs an implementation's exception and goes on with the next; return value ignored)


@hookspec
def ticket_created(ticket: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """A ticket was created and committed.

    ``ticket`` is a read-only snapshot of the ticket (its fields plus ``number``,
    ``line``, ``state``, ``sla_tier``); ``event`` is the ``created`` event as stored.
    Return value ignored; not ``firstresult``. Do slow work (sending) through the outbox,
    not here: the hook runs in the request's thread.
    """


@hookspec
def ticket_transitioned(
    ticket: Mapping[str, Any], event: Mapping[str, Any], from_state: str, to_state: str
) -> None:
    """A ticket moved from ``from_state`` to ``to_state`` (committed).

    ``event`` is the stored event that moved it (actor, channel, before/after).
    Return value ignored; not ``firstresult``.
    """


@hookspec
def ticket_closed(ticket: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """A ticket was closed (committed): its closure lock's stages all held.

    Called after ``ticket_transitioned`` for the same change. Return value ignored;
    not ``firstresult``.
    """
