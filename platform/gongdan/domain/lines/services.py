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


REPLAY_LIMIT_MAX = 2000
TOP_CANDIDATES = 3


async def _outcome(rs: Any, t: dict[str, Any], engineers: list[dict[str, Any]],
                   names: dict[Any, str], now: dt.datetime, initial: str) -> dict[str, Any]:
    """What ruleset `rs` (None: no ruleset) decides for stored ticket `t`: its tier and
    windows (classified as at creation, in the line's `initial` state, with the one
    deadline computation creates use), routing and close lock (as of `now`)."""
    from gongdan.domain.tickets import deadlines

    if rs is None:
        return {"tier": None, "respond_within_s": None, "resolve_within_s": None,
                "respond_by": None, "resolve_by": None, "pool": None, "offered": [],
                "top": [], "close_ok": True, "close_failing": []}
    created = t["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    rt = rules_runtime.rules_ticket(t["fields"], t["state"], t["facts"] or {})
    decision = rs.classify(rt, created)
    out: dict[str, Any] = {"tier": None, "respond_within_s": None, "resolve_within_s": None,
                           "respond_by": None, "resolve_by": None}
    if decision is not None:
        _, respond_by, resolve_by = await deadlines.for_new_ticket(decision, initial, created)
        out.update({
            "tier": decision.tier,
            "respond_within_s": int(decision.respond_within.total_seconds()),
            "resolve_within_s": int(decision.resolve_within.total_seconds()),
            "respond_by": respond_by.isoformat(timespec="seconds") if respond_by else None,
            "resolve_by": resolve_by.isoformat(timespec="seconds") if resolve_by else None,
        })
        rt = {**rt, "sla": {"tier": decision.tier}}
    route = rs.route(rt, engineers, now)
    ranked = [c for c in route.candidates if c.rank is not None][:TOP_CANDIDATES]
    out.update({
        "pool": route.pool,
        "offered": list(route.offered),
        "top": [{"engineer_id": c.engineer_id, "name": names.get(c.engineer_id),
                 "score": c.score, "rank": c.rank} for c in ranked],
    })
    lock = rs.can_close(rt, now)
    out.update({"close_ok": bool(lock.ok), "close_failing": list(lock.failing)})
    return out


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    changed = []
    for key, what in (("tier", "tier"), ("respond_within_s", "respond_window"),
                      ("resolve_within_s", "resolve_window"), ("pool", "pool"),
                      ("close_ok", "close_lock")):
        if a[key] != b[key] and what not in changed:
            changed.append(what)
    if [c["engineer_id"] for c in a["top"]] != [c["engineer_id"] for c in b["top"]]:
        changed.append("candidates")
    if a["close_ok"] == b["close_ok"] and a["close_failing"] != b["close_failing"]:
        changed.append("close_lock")
    return changed


def _bad_replay(key: str, zh: str, en: str) -> ApiError:
    return invalid(zh, en, [FieldError(key=key, message_zh=zh, message_en=en)])


async def replay_rules(
    key: str, version: int, *, against: int | msgspec.UnsetType | None = msgspec.UNSET,
    since: dt.datetime | None = None, until: dt.datetime | None = None, limit: int = 200,
    state: str | None = None, changed_only: bool = False,
) -> dict[str, Any]:
    """Replay stored tickets of line `key` through ruleset `version` and through `against`
    (default: the active version; None: no ruleset), storing nothing, and say per ticket
    what would change: SLA tier, respond/resolve windows and deadlines (classified as at
    the ticket's creation), route pool and top candidates among today's roster, and
    whether the close lock would pass (both as of now)."""
    from gongdan.domain.engineers.services import routing_engineers
    from gongdan.timers import clock

    if not 1 <= limit <= REPLAY_LIMIT_MAX:
        raise _bad_replay("limit", f"limit 应在 1 到 {REPLAY_LIMIT_MAX} 之间",
                          f"limit must be between 1 and {REPLAY_LIMIT_MAX}")
    if since is not None and until is not None and since >= until:
        raise _bad_replay("until", "until 应晚于 since", "until must be after since")
    line = await get_line(key)
    if against is msgspec.UNSET:
        against = line.get("rules_version")
    form = await get_form(key) if line["form_version"] else None
    schema = form["schema"] if form else None
    candidate = await get_rules(key, version)
    rs_b = rules_runtime.get(key, version, candidate["source"], schema)
    rs_a = None
    if against is not None:
        baseline = await get_rules(key, int(against))
        rs_a = rules_runtime.get(key, int(against), baseline["source"], schema)
    query = (
        GdTicket.select(GdTicket.id, GdTicket.number, GdTicket.fields, GdTicket.state,
                        GdTicket.facts, GdTicket.created_at)
        .where(GdTicket.line_key == key)
        .order_by(GdTicket.id, ascending=False)
        .limit(limit)
    )
    if since is not None:
        query = query.where(GdTicket.created_at >= since)
    if until is not None:
        query = query.where(GdTicket.created_at < until)
    if state:
        query = query.where(GdTicket.state == state)
    tickets = await query.output(load_json=True)
    engineers = await routing_engineers()
    names = {e["id"]: e["name"] for e in engineers}
    now = clock.now()
    machine = machine_from_json(line["states"])
    initial = machine.initial if machine is not None else ""
    items: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"replayed": len(tickets), "changed": 0, "tier": 0,
                               "respond_window": 0, "resolve_window": 0, "pool": 0,
                               "candidates": 0, "close_lock": 0, "tier_moves": {}}
    for t in tickets:
        a = await _outcome(rs_a, t, engineers, names, now, initial)
        b = await _outcome(rs_b, t, engineers, names, now, initial)
        changed = _differences(a, b)
        if changed:
            summary["changed"] += 1
            for what in changed:
                summary[what] += 1
            if "tier" in changed:
                move = f"{a['tier'] or '-'}->{b['tier'] or '-'}"
                summary["tier_moves"][move] = summary["tier_moves"].get(move, 0) + 1
        if changed or not changed_only:
            items.append({"ticket": t["id"], "number": t["number"], "state": t["state"],
                          "changed": changed, "current": a, "replayed": b})
    return {"line": key, "version": version, "against": against, "since":
            since.isoformat() if since else None, "until": until.isoformat() if until else None,
            "state": state, "limit": limit, "summary": summary, "tickets": items}


async def compare_rules(key: str, a: int, b: int, replay: int = 200) -> dict[str, Any]:
    """The source diff of two versions, and the most recent tickets replayed through both
    (`replay_rules`): `tier_changes` as before, the whole `replay` beside it."""
    ra, rb = await get_rules(key, a), await get_rules(key, b)
    diff = "".join(
        difflib.unified_diff(
            ra["source"].splitlines(keepends=True), rb["source"].splitlines(keepends=True),
            fromfile=f"v{a}", tofile=f"v{b}",
        )
    )
    result = await replay_rules(key, b, against=a, limit=replay, changed_only=True)
    changes = [{"number": t["number"], "tier_a": t["current"]["tier"],
                "tier_b": t["replayed"]["tier"]}
               for t in result["tickets"] if "tier" in t["changed"]]
    return {"line": key, "a": a, "b": b, "diff": diff,
            "replayed": result["summary"]["replayed"], "tier_changes": changes,
            "replay": result}


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
