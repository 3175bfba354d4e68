"""The plugin manager: loads plugins from the ``gongdan`` entry-point group.

Every plugin, ours included, is a module named by an entry point::

    [project.entry-points.gongdan]
    wecom = "gongdan_wecom"

``GONGDAN_LOAD_PLUGINS`` limits what loads: a comma-separated list of entry-point names
(``GONGDAN_LOAD_PLUGINS=webhook,wecom``); set but empty loads none; unset loads all. A
name in the list that no entry point has is an error, as is a hook implementation whose
name matches no spec (``pm.check_pending()``): a misspelt hook fails at start-up instead
of silently never running.

Plugins import ``hookimpl`` from here::

    from gongdan.plugins import hookimpl

    @hookimpl
    def register_connectors():
        return [MyConnector]
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from gongdan import hookspecs
from gongdan.connectors import (
    Connector,
    DeliveryReceipt,
    OutgoingMessage,
    PermanentDeliveryError,
    SettingsError,
    install_log_redaction,
)
from gongdan.hookspecs import (
    CallbackEvent,
    CallbackRejected,
    CallbackReply,
    CallbackVerifier,
    EventType,
    InboundCallback,
    OrgSource,
    TemplatePack,
    VerifiedCallback,
    hookimpl,
    hookspec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "CallbackEvent",
    "CallbackRejected",
    "CallbackReply",
    "CallbackVerifier",
    "ConnectorPool",
    "EventType",
    "GongdanPluginManager",
    "InboundCallback",
    "OrgSource",
    "PluginInfo",
    "PluginLoadError",
    "TemplatePack",
    "VerifiedCallback",
    "allowed_plugins",
    "cached_verifiers",
    "callback_verifiers",
    "check_plugins",
    "close_cached",
    "connector_classes",
    "connectors",
    "describe_plugins",
    "event_field_errors",
    "event_types",
    "event_validator",
    "fire_event",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "make_plugin_manager",
    "org_sources",
    "set_plugin_manager",
    "template_packs",
    "verify_callback",
]

ENTRY_POINT_GROUP = "gongdan"
LOAD_PLUGINS_ENV = "GONGDAN_LOAD_PLUGINS"


class PluginLoadError(RuntimeError):
    """A plugin could not be loaded, or two plugins claim the same name."""


def allowed_plugins(environ: Mapping[str, str] | None = None) -> frozenset[str] | None:
    """The names ``GONGDAN_LOAD_PLUGINS`` allows, or None when it is unset (all)."""
    env = os.environ if environ is None else environ
    raw = env.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


class GongdanPluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering which distribution each entry-point plugin came from."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.distributions: dict[str, metadata.Distribution | None] = {}


def make_plugin_manager(
    *,
    allow: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
    load_entrypoints: bool = True,
    plugins: Iterable[tuple[str, object]] = (),
) -> GongdanPluginManager:
    """A fresh plugin manager with the specs, the entry-point plugins and ``plugins``.

    ``allow`` overrides ``GONGDAN_LOAD_PLUGINS``; ``plugins`` are extra (name, module or
    object) pairs, registered after the entry points (tests use it). Raises
    :class:`PluginLoadError` for an unknown allowed name and pluggy's
    ``PluginValidationError`` for a hook implementation that matches no spec or takes an
    argument the spec does not have.
    """
    pm = GongdanPluginManager()
    pm.add_hookspecs(hookspecs)
    install_log_redaction()
    allowed = frozenset(allow) if allow is not None else allowed_plugins(environ)
    if load_entrypoints:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
        names = {ep.name for ep in eps}
        if allowed is not None and (unknown := allowed - names):
            raise PluginLoadError(
                f"{LOAD_PLUGINS_ENV} names unknown plugins: {', '.join(sorted(unknown))}"
                f" (installed: {', '.join(sorted(names)) or 'none'})"
            )
        for ep in sorted(eps, key=lambda e: e.name):
            if allowed is not None and ep.name not in allowed:
                continue
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginLoadError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") \
                    from exc
            pm.register(plugin, name=ep.name)
            pm.distributions[ep.name] = ep.dist
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    pm.check_pending()
    return pm


_PM: GongdanPluginManager | None = None
_PM_LOCK = threading.Lock()


def get_plugin_manager() -> GongdanPluginManager:
    """The process's plugin manager, built once from the entry points and the environment
    (or the one given to :func:`set_plugin_manager`)."""
    global _PM
    pm = _PM
    if pm is None:
        with _PM_LOCK:
            if _PM is None:
                try:
                    _PM = make_plugin_manager()
                except pluggy.PluginValidationError as exc:  # a misspelt hook, a bad argument
                    raise PluginLoadError(f"plugin {exc.plugin!r} is invalid: {exc}") from exc
            pm = _PM
    return pm


def set_plugin_manager(pm: GongdanPluginManager | None) -> None:
    """Make ``pm`` the process's plugin manager (None: build it again on next use).

    ``create_app(plugin_manager=...)`` calls this; tests use it to run the platform with a
    plugin of their own."""
    global _PM
    with _PM_LOCK:
        old, _PM = _PM, pm
    if old is not None and old is not pm:
        close_cached(old)


def _per_manager(pm: pluggy.PluginManager, attr: str, build: Callable[[], Any]) -> Any:
    """What `build()` gives, kept on the plugin manager `pm` under `attr`."""
    found = pm.__dict__.get(attr)
    if found is None:
        found = pm.__dict__[attr] = build()
    return found


def cached_verifiers(pm: pluggy.PluginManager | None = None) -> list[CallbackVerifier]:
    """The callback verifiers, built once per plugin manager (they keep HTTP clients,
    token caches and their memory of seen signatures between callbacks)."""
    pm = pm or get_plugin_manager()
    with _PM_LOCK:  # built exactly once: verifiers keep state between callbacks
        found: list[CallbackVerifier] = _per_manager(pm, "_gongdan_verifiers",
                                                     lambda: callback_verifiers(pm))
    return found


def close_cached(pm: pluggy.PluginManager | None = None) -> None:
    """Close what :func:`cached_verifiers` built (their HTTP clients); the app's shutdown
    calls this."""
    pm = pm or _PM
    if pm is None:
        return
    with _PM_LOCK:
        built = pm.__dict__.pop("_gongdan_verifiers", None) or []
    for verifier in built:
        close = getattr(verifier, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                _log.exception("closing callback verifier %s failed",
                               getattr(verifier, "name", verifier))


def check_plugins(pm: pluggy.PluginManager | None = None) -> GongdanPluginManager:
    """Build (or take) the plugin manager and everything it registers, once, so that a
    broken plugin stops start-up with a clear message instead of failing later.

    Raises :class:`PluginLoadError` (a misspelt hook, an unknown name in
    ``GONGDAN_LOAD_PLUGINS``, a plugin that fails to import, two connectors or event types
    in conflict, an event type whose schema is not valid JSON Schema)."""
    try:
        manager = pm if pm is not None else get_plugin_manager()
        connectors(manager)
        for et in event_types(manager).values():
            event_validator(et.name, manager)
        template_packs(manager)
        org_sources(manager)
        callback_verifiers(manager)
    except PluginLoadError:
        raise
    except Exception as exc:  # pluggy's PluginValidationError, a hook that raised...
        raise PluginLoadError(f"plugins failed to load: {exc}") from exc
    return manager  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# what the plugins registered


def _collect(results: Iterable[list[Any] | None]) -> list[Any]:
    out: list[Any] = []
    for result in results:
        if result:
            out.extend(result)
    return out


def connectors(pm: pluggy.PluginManager | None = None) -> dict[str, type[Connector]]:
    """Channel name -> connector class, from every plugin's ``register_connectors``."""
    pm = pm or get_plugin_manager()
    found: dict[str, type[Connector]] = {}
    for cls in _collect(pm.hook.register_connectors()):
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginLoadError(f"connector {cls!r} has no name")
        if name in found and found[name] is not cls:
            raise PluginLoadError(
                f"two connectors are named {name!r}: {found[name]!r} and {cls!r}"
            )
        found[name] = cls
    return found


def event_types(pm: pluggy.PluginManager | None = None) -> dict[str, EventType]:
    """Event type name -> declaration; the same name twice must have the same schema."""
    pm = pm or get_plugin_manager()
    found: dict[str, EventType] = {}
    for et in _collect(pm.hook.register_event_types()):
        if et.name in found and found[et.name].schema != et.schema:
            raise PluginLoadError(f"event type {et.name!r} is declared twice, differently")
        found.setdefault(et.name, et)
    return found


def template_packs(pm: pluggy.PluginManager | None = None) -> dict[str, TemplatePack]:
    """Pack name -> pack object, from every plugin's ``register_template_packs``."""
    pm = pm or get_plugin_manager()
    found: dict[str, TemplatePack] = {}
    for pack in _collect(pm.hook.register_template_packs()):
        if pack.name in found and found[pack.name] is not pack:
            raise PluginLoadError(f"two template packs are named {pack.name!r}")
        found[pack.name] = pack
    return found


def event_validator(name: str, pm: pluggy.PluginManager | None = None) -> Any:
    """The JSON Schema validator of plugin event type ``name``, compiled once per plugin
    manager, or None when no plugin declares ``name``. An invalid schema raises
    :class:`PluginLoadError` (``check_plugins`` does this at start-up)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from gongdan.domain.lines.forms import _FORMAT_CHECKER

    pm = pm or get_plugin_manager()
    cache: dict[str, Any] = pm.__dict__.setdefault("_gongdan_event_validators", {})
    if name in cache:
        return cache[name]
    declared: dict[str, EventType] = _per_manager(pm, "_gongdan_event_types",
                                                  lambda: event_types(pm))
    et = declared.get(name)
    if et is None:  # not a plugin's type: nothing to check (and nothing cached per name)
        return None
    try:
        Draft202012Validator.check_schema(et.schema)
    except SchemaError as exc:
        raise PluginLoadError(
            f"event type {name!r} has an invalid schema: {exc.message}") from None
    validator = Draft202012Validator(et.schema, format_checker=_FORMAT_CHECKER)
    cache[name] = validator
    return validator


def connector_classes(pm: pluggy.PluginManager | None = None) -> dict[str, type[Connector]]:
    """:func:`connectors`, collected once per plugin manager (the outbox asks per message)."""
    pm = pm or get_plugin_manager()
    found: dict[str, type[Connector]] = _per_manager(pm, "_gongdan_connectors",
                                                     lambda: connectors(pm))
    return found


def event_field_errors(name: str, fields: Mapping[str, Any],
                       pm: pluggy.PluginManager | None = None) -> list[Any]:
    """Per-field problems (``FieldError``) of an event's fields against its plugin's
    schema; [] when the fields are valid or no plugin declares the type."""
    validator = event_validator(name, pm)
    if validator is None:
        return []
    from gongdan.domain.lines.forms import field_errors

    return field_errors(validator, validator.schema, dict(fields))


def org_sources(pm: pluggy.PluginManager | None = None) -> dict[str, OrgSource]:
    """Source name -> org source, from every plugin's ``register_org_sources``."""
    pm = pm or get_plugin_manager()
    return {src.name: src for src in _collect(pm.hook.register_org_sources())}


def callback_verifiers(pm: pluggy.PluginManager | None = None) -> list[CallbackVerifier]:
    """Every plugin's callback verifiers, in registration order."""
    pm = pm or get_plugin_manager()
    return _collect(pm.hook.register_callback_verifiers())


def verify_callback(
    callback: InboundCallback, pm: pluggy.PluginManager | None = None
) -> VerifiedCallback:
    """Find the verifier that accepts ``callback`` and verify it.

    Raises :class:`CallbackRejected` when no verifier (or more than one) accepts it, or
    when the verifier refuses it.
    """
    matching = [v for v in callback_verifiers(pm) if v.accepts(callback)]
    if len(matching) != 1:
        raise CallbackRejected(
            f"{len(matching)} verifiers accept callbacks at {callback.path!r}; need exactly 1"
        )
    return matching[0].verify(callback)


class ConnectorPool:
    """The outbox worker's entry to the connectors: one instance per channel and thread.

    ``send`` picks the connector by ``message.channel``, builds it from the environment
    on first use in the calling thread (connectors are synchronous and not shared across
    threads) and delivers. A channel no plugin provides, or one whose settings are
    missing, raises :class:`PermanentDeliveryError`: retrying cannot fix configuration.
    ``asend`` runs ``send`` in a worker thread for async callers.
    """

    def __init__(
        self,
        classes: Mapping[str, type[Connector]] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._classes = dict(classes) if classes is not None else connectors()
        self._environ = environ
        # channel -> non-secret settings kept in the configuration (e.g. an SMS template
        # chosen in the admin UI); a secret here is refused by load_settings
        self._overrides = {k: dict(v) for k, v in (overrides or {}).items()}
        self._local = threading.local()
        self._all: list[Connector] = []
        self._lock = threading.Lock()

    @property
    def channels(self) -> list[str]:
        """The channel names this pool can deliver to."""
        return sorted(self._classes)

    def get(self, channel: str) -> Connector:
        """This thread's connector for ``channel``."""
        cache: dict[str, Connector] = self._local.__dict__.setdefault("connectors", {})
        if channel in cache:
            return cache[channel]
        cls = self._classes.get(channel)
        if cls is None:
            raise PermanentDeliveryError(
                f"no connector for channel {channel!r} (have: {', '.join(self.channels)})"
            )
        try:
            conn = cls.from_env(environ=self._environ, overrides=self._overrides.get(channel))
        except SettingsError as exc:
            raise PermanentDeliveryError(f"{channel} is not configured: {exc}") from None
        cache[channel] = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Deliver ``message`` through its channel (blocking)."""
        return self.get(message.channel).send(message)

    async def asend(self, message: OutgoingMessage) -> DeliveryReceipt:
        """``send`` in a worker thread, for the async outbox worker."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.send, message)

    def close(self) -> None:
        """Close every connector this pool built, in every thread."""
        with self._lock:
            built, self._all = self._all, []
        for conn in built:
            conn.close()
        self._local = threading.local()


EVENT_HOOKS = frozenset({"ticket_created", "ticket_transitioned", "ticket_closed"})
_log = logging.getLogger("gongdan.plugins")


def fire_event(name: str, pm: pluggy.PluginManager | None = None, **kwargs: Any) -> int:
    """Call every implementation of the event hook ``name``, isolating failures.

    pluggy stops at the first implementation that raises; after a commit one broken
    plugin must not keep the others from hearing about the ticket, nor fail the request.
    Each implementation is called on its own; an exception is logged with the plugin's
    name and the next one runs. Returns how many implementations raised.
    """
    if name not in EVENT_HOOKS:
        raise ValueError(f"{name!r} is not an event hook ({', '.join(sorted(EVENT_HOOKS))})")
    pm = pm or get_plugin_manager()
    failures = 0
    for impl in reversed(getattr(pm.hook, name).get_hookimpls()):  # pluggy's LIFO order
        try:
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception:
            failures += 1
            _log.exception("plugin %s failed in %s", impl.plugin_name, name)
    return failures


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, for ``gongdan plugins list``."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


def describe_plugins(pm: pluggy.PluginManager | None = None) -> list[PluginInfo]:
    """Every loaded plugin with the hooks it implements, sorted by name."""
    pm = pm or get_plugin_manager()
    dists = getattr(pm, "distributions", {})
    out: list[PluginInfo] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        callers = pm.get_hookcallers(plugin) or []
        dist = dists.get(name)
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__qualname__
        out.append(
            PluginInfo(
                name=name,
                module=module,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                hooks=tuple(sorted(caller.name for caller in callers)),
            )
        )
    return sorted(out, key=lambda p: p.name)


# ---------------------------------------------------------------------------
# announcing committed ticket changes to the event hooks


def _frozen(value: Any) -> Any:
    from types import MappingProxyType

    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _snapshot(ticket: Mapping[str, Any]) -> Any:
    """A read-only view of the API ticket: its form fields at the top level, then the
    ticket's own keys (``number``, ``line``, ``state``...) and ``sla_tier``."""
    sla = ticket.get("sla") or {}
    return _frozen({**(ticket.get("fields") or {}), **ticket, "sla_tier": sla.get("tier")})


def _event_view(event: Any) -> Any:
    keys = ("seq", "type", "at", "actor", "channel", "before", "after", "data")
    if isinstance(event, Mapping):
        found = {k: event.get(k) for k in keys}
    else:
        found = {k: getattr(event, k, None) for k in keys}
    if hasattr(found["at"], "isoformat"):
        found["at"] = found["at"].isoformat()
    return _frozen(found)


def announce(
    ticket: Mapping[str, Any], events: Iterable[Any], *, closed_states: Iterable[str] = (),
    pm: pluggy.PluginManager | None = None,
) -> None:
    """Fire the event hooks for changes already COMMITTED: ``ticket_created`` for a
    ``created`` event, ``ticket_transitioned`` for each ``state_changed`` (then
    ``ticket_closed`` when it entered one of ``closed_states``).

    Called by the ticket services after their transaction; one plugin at a time, a
    failing plugin logged (:func:`fire_event`), never raising into the request."""
    try:
        pm = pm or get_plugin_manager()
    except PluginLoadError:  # the app refused to start with these; a CLI may not have
        _log.exception("plugins failed to load; ticket events not announced")
        return
    closed = set(closed_states)
    view = None
    for event in events:
        etype = event.get("type") if isinstance(event, Mapping) else getattr(event, "type", None)
        if etype not in ("created", "state_changed"):
            continue
        view = view if view is not None else _snapshot(ticket)
        ev = _event_view(event)
        if etype == "created":
            fire_event("ticket_created", pm, ticket=view, event=ev)
            continue
        before, after = ev["before"] or {}, ev["after"] or {}
        to_state = str(after.get("state", ""))
        fire_event("ticket_transitioned", pm, ticket=view, event=ev,
                   from_state=str(before.get("state", "")), to_state=to_state)
        if to_state in closed:
            fire_event("ticket_closed", pm, ticket=view, event=ev)
