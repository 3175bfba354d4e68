"""Lines: create, forms (versioned), state machines, rulesets (upload, activate, compare)."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Any

import msgspec

from gongdan import rules_runtime
from gongdan.domain import audit
from gongdan.domain.lines.forms import FieldSpec, build_schema, normalize_fields
from gongdan.domain.lines.states import StateMachine, check_machine, machine_from_json
from gongdan.errors import ApiError, FieldError, conflict, invalid, not_found
from gongdan.store.engine import Database
from gongdan.store.tables import GdForm, GdLine, GdRuleset, GdTicket

LINE_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def create_line(db: Database, key: str, name: str, prefix: str | None, actor: str) -> dict:
    """A new line; `prefix` starts its ticket numbers (WX-20261125-0001)."""
    errors = []
    if not LINE_KEY.match(key):
        errors.append(FieldError(key="key",
                                 message_zh="业务线键只能用小写字母、数字、_ 和 -，以字母开头",
                                 message_en="a line key is lower-case letters, digits, _ and -, "
                                 "starting with a letter"))
    prefix = prefix or key[:2].upper()
    if not PREFIX.match(prefix):
        errors.append(FieldError(key="prefix", message_zh="编号前缀只能用大写字母和数字",
                                 message_en="a number prefix is upper-case letters and digits"))
    if not name.strip():
        errors.append(FieldError(key="name", message_zh="名称不能为空",
                                 message_en="name may not be empty"))
    if errors:
        raise invalid("业务线有误", "The line is invalid", errors)
    async with db.transaction():
        if await GdLine.exists().where(GdLine.key == key):
            raise conflict(f"业务线 {key} 已存在", f"line {key} already exists")
        await GdLine.insert(GdLine(key=key, name=name, prefix=prefix, created_at=_now()))
        await audit.record(actor, "line.created", key, {"name": name, "prefix": prefix})
    return await get_line(key)


async def get_line(key: str) -> dict[str, Any]:
    """The line row, or 404."""
    rows = await GdLine.select().where(GdLine.key == key).output(load_json=True)
    if not rows:
        raise not_found("业务线", "line", key)
    return rows[0]


async def list_lines() -> list[dict[str, Any]]:
    """Every line."""
    return list(await GdLine.select().order_by(GdLine.id).output(load_json=True))


async def put_form(db: Database, key: str, fields: list[FieldSpec], actor: str) -> dict:
    """Store a new form version (base fields added); returns the form.

    Field keys are mapped through the shipped dictionary and the line's installed packs'."""
    from gongdan.packs_install import line_synonyms

    async with db.transaction():
        synonyms = await line_synonyms(key)
        fields = normalize_fields(fields, synonyms)
        line = await get_line(key)
        version = int(line["form_version"]) + 1
        schema = build_schema(line["name"], fields, version, synonyms)
        await GdForm.insert(
            GdForm(line_key=key, version=version, fields=[msgspec.to_builtins(f) for f in fields],
                   json_schema=schema, created_by=actor, created_at=_now())
        )
        await GdLine.update({GdLine.form_version: version}).where(GdLine.key == key)
        await audit.record(actor, "form.updated", key, {"version": version})
    return await get_form(key, version)


async def get_form(key: str, version: int | None = None) -> dict[str, Any]:
    """A form version (the current one by default), or 404."""
    if version is None:
        version = int((await get_line(key))["form_version"])
    rows = (
        await GdForm.select()
        .where((GdForm.line_key == key) & (GdForm.version == version))
        .output(load_json=True)
    )
    if not rows:
        raise not_found("表单", "form", f"{key} v{version}")
    r = rows[0]
    return {"line": key, "version": r["version"], "fields": r["fields"],
            "schema": r["json_schema"], "created_at": r["created_at"]}


async def put_states(db: Database, key: str, machine: StateMachine, actor: str) -> dict:
    """Replace the line's state machine (audited)."""
    check_machine(machine)
    async with db.transaction():
        line = await get_line(key)
        await GdLine.update({GdLine.states: msgspec.to_builtins(machine)}).where(GdLine.key == key)
        await audit.record(actor, "states.updated", key,
                           {"before": line["states"], "after": msgspec.to_builtins(machine)})
    return msgspec.to_builtins(machine)


async def get_states(key: str) -> StateMachine | None:
    """The line's state machine, or None."""
    return machine_from_json((await get_line(key))["states"])


def _state_keys(line: dict[str, Any]) -> list[str] | None:
    machine = machine_from_json(line["states"])
    return [s.key for s in machine.states] if machine else None


def _diag_errors(diags: list[dict[str, Any]]) -> list[FieldError]:
    out = []
    for d in diags:
        if d.get("severity", "error") != "error":
            continue
        where = f"source:{d.get('line')}:{d.get('column')}"
        out.append(FieldError(key=where, message_zh=f"{d.get('code')} {d.get('message_zh')}",
                              message_en=f"{d.get('code')} {d.get('message_en')}"))
    return out


async def upload_rules(db: Database, key: str, source: str, actor: str) -> dict[str, Any]:
    """Check `source` against the line's form and store it as a new version (not active).

    422 with every diagnostic when it does not compile."""
    line = await get_line(key)
    form = await get_form(key) if line["form_version"] else None
    schema = form["schema"] if form else None
    rs, diags = rules_runtime.compile_source(source, schema, f"{key}.rules",
                                             _state_keys(line), strict=True)
    if rs is None:
        raise invalid("规则无法编译", "The ruleset does not compile", _diag_errors(diags)) \
            .with_data({"diagnostics": diags})
    if getattr(rs, "line", key) != key:
        raise invalid(
            f"规则文件声明的业务线是 {rs.line}，而不是 {key}",
            f"the ruleset is for line {rs.line}, not {key}",
            [FieldError(key="source:1:1", message_zh="业务线不符", message_en="line mismatch")],
        )
    async with db.transaction():
        rows = await GdRuleset.raw(
            "SELECT COALESCE(MAX(version), 0) AS v FROM gd_ruleset WHERE line_key = {}", key
        )
        version = int(rows[0]["v"]) + 1
        await GdRuleset.insert(
            GdRuleset(line_key=key, version=version, name=str(getattr(rs, "name", "")),
                      source=source, form_version=int(line["form_version"]), diagnostics=diags,
                      created_by=actor, created_at=_now())
        )
        await audit.record(actor, "rules.uploaded", key, {"version": version})
    return {"version": version, "name": getattr(rs, "name", ""), "diagnostics": diags}


async def check_rules(key: str, source: str) -> dict[str, Any]:
    """Check `source` as an upload would, storing nothing: every diagnostic."""
    line = await get_line(key)
    form = await get_form(key) if line["form_version"] else None
    rs, diags = rules_runtime.compile_source(source, form["schema"] if form else None,
                                             f"{key}.rules", _state_keys(line), strict=True)
    if rs is not None and getattr(rs, "line", key) != key:
        diags = [*diags, {"code": "E-LINE", "severity": "error", "line": 1, "column": 1,
                          "end_line": 1, "end_column": 2, "suggestion": None,
                          "message_zh": f"规则文件声明的业务线是 {rs.line}，而不是 {key}",
                          "message_en": f"the ruleset is for line {rs.line}, not {key}"}]
    ok = not any(d.get("severity") == "error" for d in diags)
    return {"ok": ok, "diagnostics": diags}


async def get_rules(key: str, version: int) -> dict[str, Any]:
    """One ruleset version, or 404."""
    rows = (
        await GdRuleset.select()
        .where((GdRuleset.line_key == key) & (GdRuleset.version == version))
        .output(load_json=True)
    )
    if not rows:
        raise not_found("规则版本", "ruleset version", f"{key} v{version}")
    return rows[0]


async def list_rules(key: str) -> list[dict[str, Any]]:
    """Every version of the line's ruleset, newest first, with which one is active."""
    line = await get_line(key)
    rows = (
        await GdRuleset.select(
            GdRuleset.version, GdRuleset.name, GdRuleset.form_version, GdRuleset.diagnostics,
            GdRuleset.created_by, GdRuleset.created_at,
        )
        .where(GdRuleset.line_key == key)
        .order_by(GdRuleset.version, ascending=False)
        .output(load_json=True)
    )
    for r in rows:
        r["active"] = r["version"] == line["rules_version"]
    return list(rows)


async def activate_rules(db: Database, key: str, version: int, actor: str) -> dict[str, Any]:
    """Make `version` the active ruleset (it must still compile against the current form)."""
    line = await get_line(key)
    rules = await get_rules(key, version)
    form = await get_form(key) if line["form_version"] else None
    rs, diags = rules_runtime.compile_source(
        rules["source"], form["schema"] if form else None, f"{key}@v{version}.rules",
        _state_keys(line), strict=True,
    )
    if rs is None:
        raise invalid(f"规则版本 {version} 不能激活：无法编译",
                      f"ruleset version {version} cannot be activated: it does not compile",
                      _diag_errors(diags)).with_data({"diagnostics": diags})
    async with db.transaction():
        await GdLine.update({GdLine.rules_version: version}).where(GdLine.key == key)
        await audit.record(actor, "rules.activated", key,
                           {"before": line["rules_version"], "after": version})
    return {"line": key, "active": version, "previous": line["rules_version"]}


async def compare_rules(key: str, a: int, b: int, replay: int = 200) -> dict[str, Any]:
    """The source diff of two versions, and the recent tickets whose tier would change."""
    ra, rb = await get_rules(key, a), await get_rules(key, b)
    diff = "".join(
        difflib.unified_diff(
            ra["source"].splitlines(keepends=True), rb["source"].splitlines(keepends=True),
            fromfile=f"v{a}", tofile=f"v{b}",
        )
    )
    changes: list[dict[str, Any]] = []
    line = await get_line(key)
    form = await get_form(key) if line["form_version"] else None
    schema = form["schema"] if form else None
    rsa = rules_runtime.get(key, a, ra["source"], schema)
    rsb = rules_runtime.get(key, b, rb["source"], schema)
    tickets = (
        await GdTicket.select(GdTicket.number, GdTicket.fields, GdTicket.state, GdTicket.facts)
        .where(GdTicket.line_key == key)
        .order_by(GdTicket.id, ascending=False)
        .limit(replay)
        .output(load_json=True)
    )
    for t in tickets:
        ticket = rules_runtime.rules_ticket(t["fields"], t["state"], t["facts"] or {})
        da, dbb = rsa.classify(ticket), rsb.classify(ticket)
        ta, tb = (da.tier if da else None), (dbb.tier if dbb else None)
        if ta != tb:
            changes.append({"number": t["number"], "tier_a": ta, "tier_b": tb})
    return {"line": key, "a": a, "b": b, "diff": diff, "replayed": len(tickets),
            "tier_changes": changes}


async def dry_run(key: str, ticket: dict[str, Any]) -> dict[str, Any]:
    """What the active rules would do with `ticket`: its SLA tier and the routing decision
    among the line's engineers. Nothing is stored and no offer is sent."""
    from gongdan.domain.engineers.services import routing_engineers
    from gongdan.domain.lines.forms import apply_defaults, canonicalize
    from gongdan.domain.tickets import deadlines

    line = await get_line(key)
    version = line.get("rules_version")
    if not version:
        raise ApiError(409, "该业务线还没有启用的规则", f"line {key} has no active ruleset")
    form = await get_form(key) if line["form_version"] else None
    stored = await get_rules(key, int(version))
    rs = rules_runtime.get(key, int(version), stored["source"], form["schema"] if form else None)
    machine = await get_states(key)
    state = str(ticket.get("state") or (machine.initial if machine is not None else ""))
    fields = canonicalize({k: v for k, v in ticket.items() if k != "state"}, form)
    if form is not None:
        fields = apply_defaults(form["fields"], fields)
    rt = rules_runtime.rules_ticket(fields, state, ticket)
    from gongdan.timers import clock

    now = clock.now()  # the platform's (injectable) now, as a create would use
    decision = rs.classify(rt, now, explain=True)
    sla = None
    if decision is not None:
        _, respond_by, resolve_by = await deadlines.for_new_ticket(decision, state, now)
        reason = decision.reason.to_dict() if decision.reason is not None else None
        sla = decision.to_dict() | {
            "respond_by": respond_by.isoformat(timespec="seconds") if respond_by else None,
            "resolve_by": resolve_by.isoformat(timespec="seconds") if resolve_by else None,
            # why this tier: one line in both languages (what the dry-run page shows), each
            # language alone, and the rule that matched (condition, line, keywords by field)
            "why": f"{decision.why_zh} / {decision.why_en}" if reason else None,
            "why_zh": decision.why_zh or None,
            "why_en": decision.why_en or None,
            "reason": reason,
        }
        rt["sla"] = {"tier": decision.tier}
    engineers = await routing_engineers()  # the same roster dispatch routes among
    names = {e["id"]: e["name"] for e in engineers}
    route = rs.route(rt, engineers, now)
    out = route.to_dict()
    for c in out["candidates"]:
        c["name"] = names.get(c["engineer_id"])
    from gongdan_rules import explain

    summary = explain.summary(route, names)
    out["summary_zh"], out["summary_en"] = summary.zh, summary.en
    return {"sla": sla, "route": out if route.pool is not None else None, "rules_version": int(version)}
