"""Installing template packs into a database: `gongdan packs install NAME [--demo] [--force]`
and `POST /api/packs/{name}/install`.

安装模板包：在一个事务中创建业务线（若不存在）、保存表单（与当前版本不同才新建版本）、
状态机、规则（新版本，按表单检查后启用，审计记录模板包名和版本），登记事件类型、消息模板、
报表预设和字段词典，并记录已安装的模板包及版本。

One transaction per pack. Idempotent: the same version again changes nothing and says so.
A newer version writes its form and rules as NEW versions (existing tickets keep their
form version and data); a different pack with the same version, or an older version, is
refused unless ``force``, and so is taking over an existing line no install of this pack
made. ``demo`` also writes the pack's demo data through the same
service path as any ticket (validated, classified, numbered, routed), once per database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pluggy

from gongdan import rules_runtime
from gongdan.domain import audit
from gongdan.domain.lines import services as lines
from gongdan.domain.lines.forms import FieldSpec, build_schema, normalize_fields
from gongdan.domain.lines.states import StateMachine, check_machine
from gongdan.errors import ApiError, FieldError, conflict, invalid
from gongdan.packs import TemplatePack
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdLine, GdPackInstall, GdRuleset

__all__ = ["InstallReport", "install_pack", "installed", "line_synonyms", "line_templates", "parse_version"]

Progress = Callable[[str], None]
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_INSTALL_LOCK_ID = 7_262_011  # pg_advisory_xact_lock key: installs take turns
_SHIFT = re.compile(r"(\d{2}:\d{2})-(\d{2}:\d{2})")


def parse_version(version: str) -> tuple[int, int, int, int, str]:
    """A sortable key for a semver string (a pre-release sorts before its release)."""
    m = _SEMVER.match(version)
    if not m:
        raise ValueError(f"not a semver version: {version!r}")
    pre = m.group(4) or ""
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if pre else 1, pre


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class InstallReport:
    """What an install did (or would not do)."""

    pack: str
    version: str
    line: str
    action: str  # installed | upgraded | unchanged | reinstalled | downgraded
    previous: str | None = None
    line_created: bool = False
    form_version: int | None = None
    form_changed: bool = False
    states_changed: bool = False
    rules_version: int | None = None
    rules_changed: bool = False
    demo: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


async def installed() -> list[dict[str, Any]]:
    """Every installed pack row, by name."""
    rows = await GdPackInstall.select().order_by(GdPackInstall.pack).output(load_json=True)
    return [_row_out(r) for r in rows]


def _iso(v: Any) -> str | None:
    return v.isoformat(timespec="seconds") if isinstance(v, dt.datetime) else None


def _row_out(r: dict[str, Any]) -> dict[str, Any]:
    return {"pack": r["pack"], "version": r["version"], "title": r["title"], "line_keys": r["line_keys"],
            "installed_at": _iso(r["installed_at"]), "updated_at": _iso(r["updated_at"]),
            "installed_by": r["installed_by"], "demo_at": _iso(r["demo_at"]), "history": r["history"],
            "event_types": r["event_types"], "message_templates": sorted(r["message_templates"] or {}),
            "report_presets": [p.get("name") for p in r["report_presets"] or []],
            "field_dictionary": r["field_dictionary"]}


async def _line_pack_map(line_key: str, column: Any) -> dict[str, str]:
    """One JSON map `column` of every pack installed for `line_key`, merged in pack order."""
    rows = await GdPackInstall.select(GdPackInstall.line_keys, column).order_by(
        GdPackInstall.pack).output(load_json=True)
    out: dict[str, str] = {}
    for r in rows:
        if line_key in (r["line_keys"] or []):
            out.update(r[column._meta.name] or {})
    return out


async def line_synonyms(line_key: str) -> dict[str, str]:
    """Synonym -> canonical key from every pack installed for `line_key` (read when a form is
    saved; the form version keeps them)."""
    return await _line_pack_map(line_key, GdPackInstall.field_dictionary)


async def line_templates(line_key: str) -> dict[str, str]:
    """Message template name -> Jinja2 source from every pack installed for `line_key` (the
    `packs` layer of `gongdan.templating.MessageTemplates`)."""
    return await _line_pack_map(line_key, GdPackInstall.message_templates)


def _field_specs(pack: TemplatePack) -> list[FieldSpec]:
    return [msgspec.convert(f, FieldSpec) for f in pack.fields]


def _machine(pack: TemplatePack) -> StateMachine:
    return check_machine(msgspec.convert(pack.states, StateMachine))


def _rules_error(pack: TemplatePack, diags: list[dict[str, Any]]) -> ApiError:
    errors = [FieldError(key=f"{pack.name}.rules:{d.get('line')}:{d.get('column')}",
                         message_zh=f"{d.get('code')} {d.get('message_zh')}",
                         message_en=f"{d.get('code')} {d.get('message_en')}")
              for d in diags if d.get("severity", "error") == "error"]
    return invalid(f"模板包 {pack.name} 的规则无法编译", f"the rules of pack {pack.name} do not compile",
                   errors).with_data({"diagnostics": diags})


def _compile(pack: TemplatePack, schema: dict[str, Any], pm: pluggy.PluginManager | None
             ) -> tuple[str, list[dict[str, Any]]]:
    """Check the pack's rules against the line's form as the platform stores it, the pack's
    states, and the installed channels and event types: (ruleset name, warnings)."""
    from gongdan.plugins import connectors, event_types

    rules = rules_runtime._rules()
    channels = set(connectors(pm))
    events = set(event_types(pm)) | set(pack.event_names)
    try:
        rs = rules.compile_ruleset(pack.rules_source, schema=schema, filename=f"{pack.name}.rules",
                                   channels=channels, events=events, states=pack.state_keys)
    except rules.RulesError as exc:
        raise _rules_error(pack, [d.to_dict() for d in exc.diagnostics]) from None
    if getattr(rs, "line", pack.line_key) != pack.line_key:
        raise invalid(f"模板包 {pack.name} 的规则声明的业务线是 {rs.line}，而不是 {pack.line_key}",
                      f"the rules of pack {pack.name} are for line {rs.line}, not {pack.line_key}")
    return str(getattr(rs, "name", "") or pack.name), [d.to_dict() for d in rs.diagnostics]


def _same_fields(current: dict[str, Any] | None, fields: list[FieldSpec], synonyms: dict[str, str]) -> bool:
    if current is None:
        return False
    want = build_schema("", fields, 0, synonyms)["x-gongdan-form"]
    have = current["schema"].get("x-gongdan-form") or {}
    return bool(current["fields"] == want["fields"] and (have.get("synonyms") or {}) == (want.get("synonyms") or {}))


async def install_pack(
    db: Database, settings: Settings, pack: TemplatePack, *, demo: bool = False, force: bool = False,
    by: str = "cli", pm: pluggy.PluginManager | None = None, progress: Progress | None = None,
    demo_seed: int = 0, demo_size: str = "small",
) -> InstallReport:
    """Install (or upgrade) `pack`; see the module's docstring. Raises `ApiError` (409 for a
    refused downgrade or a changed pack under the same version, 422 for rules that do not
    compile against the line's form); nothing is written then."""
    say = progress or (lambda _line: None)
    actor = f"pack:{pack.name}@{pack.version}"
    reason = f"模板包 {pack.name} {pack.version} / template pack {pack.name} {pack.version}"
    if not rules_runtime.available():
        raise ApiError(503, "规则引擎不可用，无法安装模板包",
                       "the rules engine is not available; packs cannot be installed")
    new_key = parse_version(pack.version)
    machine = _machine(pack)
    async with db.transaction():
        if not db.is_sqlite:  # one installer at a time (SQLite's write lock already is one)
            await GdPackInstall.raw("SELECT pg_advisory_xact_lock({})", _INSTALL_LOCK_ID)
        found = await GdPackInstall.select().where(GdPackInstall.pack == pack.name).output(load_json=True)
        row = found[0] if found else None
        previous = row["version"] if row else None
        action = "installed"
        if row is not None:
            old_key = parse_version(row["version"])
            if old_key == new_key and row["checksum"] == pack.checksum and not force:
                action = "unchanged"
            elif old_key == new_key and not force:
                raise conflict(
                    f"模板包 {pack.name} {pack.version} 已安装，但内容与已安装的不同；"
                    "请提高版本号，或用 --force 重新安装",
                    f"pack {pack.name} {pack.version} is installed with different contents; bump its version "
                    "or use --force", {"installed": row["version"], "candidate": pack.version})
            elif old_key > new_key and not force:
                raise conflict(
                    f"已安装模板包 {pack.name} {row['version']}，不能降级到 {pack.version}（用 --force 强制）",
                    f"pack {pack.name} {row['version']} is installed; refusing to downgrade to {pack.version} "
                    "(use --force)", {"installed": row["version"], "candidate": pack.version})
            else:
                action = ("upgraded" if old_key < new_key else "downgraded" if old_key > new_key
                          else "reinstalled")
        managed = row is not None and pack.line_key in (row["line_keys"] or [])
        if not managed and not force and await GdLine.exists().where(GdLine.key == pack.line_key):
            raise conflict(
                f"业务线 {pack.line_key} 已存在，但不是由模板包 {pack.name} 创建的；用 --force 让模板包接管它"
                "（表单和规则写成新版本，已有工单不变）",
                f"line {pack.line_key} exists and was not made by pack {pack.name}; use --force to let the pack "
                "take it over (its form and rules become new versions; tickets stay)",
                {"line": pack.line_key})
        report = InstallReport(pack=pack.name, version=pack.version, line=pack.line_key, action=action,
                               previous=previous)
        if action == "unchanged":
            say(f"模板包 {pack.name} {pack.version} 已安装，无变化 / pack {pack.name} {pack.version} is already "
                "installed: nothing to change")
            report.notes.append("already installed / 已安装")
        else:
            verb = {"installed": "安装 installing", "upgraded": f"升级 upgrading from {previous}",
                    "downgraded": f"降级 downgrading from {previous}",
                    "reinstalled": "重新安装 reinstalling"}[action]
            say(f"{verb} {pack.name} {pack.version} …")
            await _apply(db, pack, machine, row, report, actor, reason, by, pm, say)
        if demo:
            fresh = await GdPackInstall.select(GdPackInstall.demo_at).where(GdPackInstall.pack == pack.name)
            if fresh and fresh[0]["demo_at"] is not None:
                say(f"演示数据已写入过，跳过 / demo data was already written for {pack.name}: skipped")
                report.notes.append("demo already written / 演示数据已存在")
            else:
                report.demo = await _write_demo(db, settings, pack, demo_seed, demo_size, say)
                await GdPackInstall.update({GdPackInstall.demo_at: _now()}).where(GdPackInstall.pack == pack.name)
                await audit.record(actor, "pack.demo", pack.line_key, {"by": by, "reason": reason, **report.demo})
        line = await lines.get_line(pack.line_key)
        report.form_version = int(line["form_version"]) or None
        report.rules_version = line["rules_version"]
    say(f"完成 / done: {pack.name} {pack.version} ({action}), line {pack.line_key}, "
        f"form v{report.form_version}, rules v{report.rules_version}")
    return report


async def _apply(db: Database, pack: TemplatePack, machine: StateMachine, row: dict[str, Any] | None,
                 report: InstallReport, actor: str, reason: str, by: str, pm: pluggy.PluginManager | None,
                 say: Progress) -> None:
    """Write the pack's line, form, states, rules and its install row (inside the caller's
    transaction)."""
    key = pack.line_key
    now = _now()
    if not await GdLine.exists().where(GdLine.key == key):
        prefix = pack.prefix or None
        await lines.create_line(db, key, pack.line_name, prefix, actor)
        report.line_created = True
        say(f"  业务线 line {key} ({pack.line_name}) 已创建 / created")
    # the install row first: saving the form reads the line's synonyms from it
    history = list(row["history"]) if row else []
    history.append({"version": pack.version, "at": now.isoformat(timespec="seconds"), "by": by,
                    "action": report.action})
    values = {
        "version": pack.version, "checksum": pack.checksum, "title": pack.title,
        "line_keys": sorted({*(row["line_keys"] if row else []), key}),
        "field_dictionary": dict(pack.field_dictionary), "message_templates": dict(pack.message_templates),
        "report_presets": list(pack.report_presets),
        "event_types": [{"name": e.name, "title": e.title, "schema": e.schema} for e in pack.events],
        "history": history, "installed_by": by, "updated_at": now,
    }
    if row is None:
        await GdPackInstall.insert(GdPackInstall(pack=pack.name, installed_at=now, **values))
    else:
        await GdPackInstall.update({getattr(GdPackInstall, k): v for k, v in values.items()}).where(
            GdPackInstall.pack == pack.name)

    synonyms = await line_synonyms(key)
    fields = normalize_fields(_field_specs(pack), synonyms)
    line = await lines.get_line(key)
    current = await lines.get_form(key) if line["form_version"] else None
    if _same_fields(current, fields, synonyms):
        say(f"  表单未变，仍为 v{line['form_version']} / form unchanged (v{line['form_version']})")
    else:
        # checked before anything is saved: a ruleset that does not fit fails the install
        _compile(pack, build_schema(line["name"], fields, int(line["form_version"]) + 1, synonyms), pm)
        form = await lines.put_form(db, key, _field_specs(pack), actor)
        report.form_changed = True
        say(f"  表单 form v{form['version']} 已保存 / saved ({len(form['fields'])} fields)")
    states = msgspec.json.decode(msgspec.json.encode(machine))  # as stored: pairs are lists
    if line["states"] != states:
        await lines.put_states(db, key, machine, actor)
        report.states_changed = True
        say(f"  状态机 states 已保存 / saved ({len(machine.states)} states)")

    line = await lines.get_line(key)
    form = await lines.get_form(key)
    active = await lines.get_rules(key, int(line["rules_version"])) if line["rules_version"] else None
    if active is not None and active["source"] == pack.rules_source and not (report.form_changed
                                                                              or report.states_changed):
        say(f"  规则未变，仍为 v{line['rules_version']} / rules unchanged (v{line['rules_version']})")
    else:
        rs_name, diags = _compile(pack, form["schema"], pm)
        rows = await GdRuleset.raw("SELECT COALESCE(MAX(version), 0) AS v FROM gd_ruleset WHERE line_key = {}", key)
        version = int(rows[0]["v"]) + 1
        await GdRuleset.insert(GdRuleset(
            line_key=key, version=version, name=rs_name, source=pack.rules_source,
            form_version=int(line["form_version"]), diagnostics=diags, created_by=actor, created_at=_now()))
        await audit.record(actor, "rules.uploaded", key, {"version": version, "by": by, "reason": reason})
        await GdLine.update({GdLine.rules_version: version}).where(GdLine.key == key)
        await audit.record(actor, "rules.activated", key,
                           {"before": line["rules_version"], "after": version, "by": by, "reason": reason})
        report.rules_changed = True
        say(f"  规则 rules v{version} 已启用 / activated ({len(diags)} warnings)")
    say(f"  事件类型 event types: {', '.join(pack.event_names) or '-'}; 消息模板 message templates: "
        f"{len(pack.message_templates)}; 报表预设 report presets: {len(pack.report_presets)}; "
        f"字段词典 synonyms: {len(pack.field_dictionary)}")
    await audit.record(actor, f"pack.{report.action}", key,
                       {"pack": pack.name, "version": pack.version, "previous": report.previous, "by": by,
                        "reason": reason})


def _shifts(text: Any) -> list[list[str]]:
    m = _SHIFT.search(str(text or ""))
    return [[m.group(1), m.group(2)]] if m else []


async def _write_demo(db: Database, settings: Settings, pack: TemplatePack, seed: int, size: str,
                      say: Progress) -> dict[str, int]:
    """The pack's demo engineers (with skills and locations) and tickets, through the same
    services the API uses; returns the counts."""
    from gongdan.domain.engineers.services import check_values, ensure_engineer
    from gongdan.domain.tickets import services as tickets
    from gongdan.domain.users.services import CurrentUser, ensure_user

    data = pack.demo(seed, size)
    say(f"  演示数据 demo: {len(data.engineers)} engineers, {len(data.tickets)} tickets, "
        f"{len(data.customers)} customers …")
    supervisors = {}
    for s in data.supervisors:
        name = f"{pack.name}-{s['id']}".lower()
        await ensure_user(name, "supervisor", s["name"])
        supervisors[s["id"]] = name
    for e in data.engineers:
        key = f"{pack.name}-{e['id']}".lower()
        values = check_values({
            "name": e["name"], "phone": e["phone"], "skills": e["skills"], "max_load": e["max_load"],
            "team": e.get("team"), "supervisor": supervisors.get(e.get("supervisor", "")), "region": e["region"],
            "location": e["location"], "shifts": _shifts(e.get("shift")), "on_shift": bool(e.get("on_shift")),
        }, creating=False)
        await ensure_user(key, "engineer", e["name"])
        await ensure_engineer(key, e["name"], values)
    agent = await ensure_user(f"{pack.name}-demo", "agent", f"{pack.title} 演示坐席 / demo agent")
    me = CurrentUser(id=agent["id"], name=agent["name"], role="agent")
    made = 0
    for i, t in enumerate(data.tickets):
        body = {k: v for k, v in t.items() if k not in ("id", "attachments")}
        ticket, created = await tickets.create_ticket(db, settings, pack.line_key, body, me, "api",
                                                      idempotency_key=f"pack-demo:{pack.name}:{t['id']}")
        made += int(created)
        for a in t.get("attachments") or []:
            await tickets.post_event(db, settings, ticket["id"], {"type": "attachment", **a}, me)
        if (i + 1) % 20 == 0:
            say(f"    {i + 1}/{len(data.tickets)} tickets")
    return {"engineers": len(data.engineers), "supervisors": len(data.supervisors), "tickets": made,
            "customers": len(data.customers)}
