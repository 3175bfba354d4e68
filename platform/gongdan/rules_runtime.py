"""The one place the platform calls the rules language (`gongdan_rules`).

Compiled rulesets are cached per (line, version): versions never change once uploaded, and
evaluating a compiled ruleset touches no I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from gongdan.errors import ApiError

_CACHE: OrderedDict[tuple[str, int], Any] = OrderedDict()
_LOCK = threading.Lock()
_MAX = 128


def _rules() -> Any:
    try:
        import gongdan_rules
    except ImportError:  # the language ships in the same distribution
        gongdan_rules = None
    if gongdan_rules is None or not hasattr(gongdan_rules, "compile_ruleset"):
        raise ApiError(
            503, "规则引擎不可用", "The rules language (gongdan_rules) is not available"
        )
    return gongdan_rules


def clear_cache() -> None:
    """Forget compiled rulesets (a process switching databases must call this)."""
    with _LOCK:
        _CACHE.clear()


def available() -> bool:
    """True when `gongdan_rules` can be imported."""
    try:
        _rules()
    except ApiError:
        return False
    return True


def installed() -> tuple[set[str] | None, set[str] | None]:
    """(channel names, plugin event types) from the installed plugins.

    A broken plugin (a misspelt hook, a failing import) is not hidden: checking rules
    against a half-loaded plugin set would accept or refuse channels wrongly. It fails
    `gongdan serve` at start-up (`plugins.check_plugins`); here it is a 503 naming it."""
    from gongdan.plugins import PluginLoadError, connectors, event_types

    try:
        return set(connectors()), set(event_types())
    except PluginLoadError as exc:
        raise ApiError(503, f"插件加载失败：{exc}", f"plugins failed to load: {exc}") from exc


def compile_source(
    source: str, schema: dict[str, Any] | None, filename: str,
    states: list[str] | None = None, strict: bool = False,
) -> tuple[Any | None, list[dict[str, Any]]]:
    """Compile `source`; returns (ruleset, warnings) or (None, errors+warnings).

    `strict` (uploads and activation) also checks channel names against the installed
    connectors, event types against the plugins' and state names against `states`."""
    rules = _rules()
    channels, events = installed() if strict else (None, None)
    try:
        rs = rules.compile_ruleset(source, schema=schema, filename=filename, channels=channels,
                                   events=events, states=states if strict else None)
    except rules.RulesError as exc:
        return None, [d.to_dict() for d in exc.diagnostics]
    return rs, [d.to_dict() for d in rs.diagnostics]


def get(line: str, version: int, source: str, schema: dict[str, Any] | None) -> Any:
    """The compiled ruleset of one version, from the cache or compiled now."""
    key = (line, version)
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    rs, diags = compile_source(source, schema, f"{line}@v{version}.rules")
    if rs is None:
        raise ApiError(
            500,
            f"已保存的规则版本 {version} 无法编译",
            f"stored ruleset version {version} no longer compiles",
            data={"diagnostics": diags},
        )
    with _LOCK:
        _CACHE[key] = rs
        if len(_CACHE) > _MAX:
            _CACHE.popitem(last=False)
    return rs


def rules_ticket(
    fields: dict[str, Any], state: str, facts: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ticket dict the rules see: form fields plus state, location, attachments,
    customer_signature, root_cause_recorded and customer."""
    ticket = dict(fields)
    ticket.update(
        state=state,
        location=fields.get("location"),
        attachments=list(facts.get("attachments") or []),
        customer_signature=facts.get("customer_signature"),
        root_cause_recorded=bool(facts.get("root_cause_recorded", False)),
        customer={"id": fields.get("customer_id"), "phone": fields.get("customer_phone")},
    )
    if extra:
        ticket.update(extra)
    return ticket
