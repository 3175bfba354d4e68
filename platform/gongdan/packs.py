"""Template packs: the pack data type, its checks, and finding installed packs.

A template pack (设备维修, 家电售后, 生产工序…) brings one business line: its form fields,
state machine, ruleset, message templates, report presets and a demo-data generator. Packs
are plugins: a package registers :class:`TemplatePack` objects through the
``register_template_packs`` hook and an entry point in the ``gongdan`` group, exactly like
a connector. This module is part of the public plugin API (packs import it); it does no
I/O beyond reading package data and never touches the database: the installer
(:mod:`gongdan.packs_install`, ``gongdan packs install``) reads everything it writes from
the pack object.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pluggy

from gongdan.hookspecs import EventType
from gongdan.hookspecs import TemplatePack as PackProtocol

if TYPE_CHECKING:
    from gongdan_rules import CompiledRuleset

__all__ = [
    "BASE_FIELDS",
    "FIELD_TYPES",
    "DemoData",
    "DemoSpec",
    "District",
    "Fault",
    "PackNotFound",
    "TemplatePack",
    "field_schema",
    "generate_demo",
    "installed_packs",
    "load_pack",
]

#: The field types a pack's form may use (the form designer's palette).
FIELD_TYPES = frozenset({
    "text", "textarea", "number", "bool", "select", "multiselect", "date", "datetime", "phone",
    "region", "location", "device_sn", "attachment", "signature",
})
STATE_CATEGORIES = frozenset({"open", "pending", "closed"})
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
PHONE_PATTERN = r"^1[3-9]\d{9}$"
REGION_PATTERN = r"^\d{6}$"

#: The base fields every line has (DESIGN.md capability 1); the platform adds them to
#: every pack's form, so a pack lists only its line-specific fields.
BASE_FIELDS: tuple[dict[str, Any], ...] = (
    {"key": "category", "label": "类别 Category", "type": "text", "required": True},
    {"key": "title", "label": "标题 Title", "type": "text", "required": True},
    {"key": "description", "label": "问题描述 Description", "type": "textarea", "required": True},
    {"key": "customer_id", "label": "客户 Customer", "type": "text", "required": True},
    {"key": "customer_phone", "label": "联系电话 Phone", "type": "phone", "required": True},
    {"key": "device_sn", "label": "设备序列号 Device SN", "type": "device_sn", "required": True},
    {"key": "fault_code", "label": "故障码 Fault code", "type": "text", "required": True},
    {"key": "region", "label": "行政区划 Region", "type": "region", "required": True},
    {"key": "location", "label": "位置 Location", "type": "location", "required": True},
    {"key": "reported_at", "label": "报修时间 Reported at", "type": "datetime", "required": True},
    # the platform's own: evidence collected while the ticket is worked
    {"key": "attachments", "label": "附件 Attachments", "type": "attachment", "required": False},
)
BASE_KEYS = frozenset(f["key"] for f in BASE_FIELDS)
#: Keys the platform sets itself; no form field may use them.
RESERVED_KEYS = frozenset({
    "id", "number", "line", "state", "sla", "tier", "version", "assignee",
    "attachments", "customer_signature", "root_cause_recorded", "customer",
})

_ATTACHMENT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"kind": {"type": "string"}, "url": {"type": "string"}, "name": {"type": "string"}},
        "required": ["kind"],
    },
}


def field_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one form field (``{"key", "type", "options"?...}``)."""
    kind = spec["type"]
    label = str(spec.get("label", spec["key"]))
    out: dict[str, Any]
    if kind in ("text", "textarea", "device_sn"):
        out = {"type": "string"}
    elif kind == "number":
        out = {"type": "number"}
    elif kind == "bool":
        out = {"type": "boolean"}
    elif kind == "select":
        out = {"type": "string", "enum": list(spec.get("options", []))}
    elif kind == "multiselect":
        out = {"type": "array", "items": {"type": "string", "enum": list(spec.get("options", []))},
               "uniqueItems": True}
    elif kind == "date":
        out = {"type": "string", "format": "date"}
    elif kind == "datetime":
        out = {"type": "string", "format": "date-time"}
    elif kind == "phone":
        out = {"type": "string", "pattern": PHONE_PATTERN}
    elif kind == "region":
        out = {"type": "string", "pattern": REGION_PATTERN}
    elif kind == "location":
        out = {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
               "required": ["lat", "lon"]}
    elif kind == "attachment":
        out = dict(_ATTACHMENT_SCHEMA)
    elif kind == "signature":
        out = {"type": "object", "properties": {"signer": {"type": "string"}, "signed_at": {"type": "string"},
                                                "url": {"type": "string"}}}
    else:
        raise ValueError(f"unknown field type {kind!r} (one of {', '.join(sorted(FIELD_TYPES))})")
    out["title"] = label
    if spec.get("help"):
        out["description"] = str(spec["help"])
    return out


# ---------------------------------------------------------------------------
# demo data


@dataclass(frozen=True)
class DemoData:
    """Plain dicts a pack's ``demo(seed, size)`` returns; the installer writes them as rows.

    ``customers``: id, name (名称), phone, region, address, vip. ``devices``: sn, model,
    customer_id, installed_at. ``supervisors``: id, name, phone, team. ``engineers``: id,
    name, phone, skills {tag: 1..5}, max_load, load, team, supervisor (a supervisor id),
    region, location {lat, lon}, shift, on_shift (a snapshot for the demo), plus line extras
    (``product_lines``, ``process_steps``). ``tickets``: the form's fields (valid against
    the pack's form schema) plus ``id``; ``customer_id``/``device_sn`` refer to the lists.
    """

    customers: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    supervisors: list[dict[str, Any]]
    engineers: list[dict[str, Any]]
    tickets: list[dict[str, Any]]

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """The five lists under their names."""
        return {"customers": self.customers, "devices": self.devices, "supervisors": self.supervisors,
                "engineers": self.engineers, "tickets": self.tickets}


@dataclass(frozen=True)
class District:
    """A district with its real 6-digit administrative code and an approximate centre."""

    code: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Fault:
    """One kind of ticket a demo generates: what the reporter writes and the line fields."""

    description: str
    fault_code: str
    category: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoSpec:
    """What :func:`generate_demo` needs to know about a line to invent realistic data."""

    city: str
    districts: Sequence[District]
    sn_prefix: str
    models: Sequence[str]
    customer_names: Sequence[str]
    skills: Sequence[str]
    teams: Sequence[str]
    faults: Sequence[Fault]
    #: extra engineer attributes from (rng, engineer) -> dict
    engineer_extra: Callable[[random.Random, dict[str, Any]], dict[str, Any]] | None = None
    #: extra ticket fields from (rng, ticket, fault) -> dict
    ticket_extra: Callable[[random.Random, dict[str, Any], Fault], dict[str, Any]] | None = None
    vip_share: float = 0.15


#: demo sizes: customers, devices per customer, engineers, tickets
DEMO_SIZES: dict[str, tuple[int, int, int, int]] = {
    "small": (20, 2, 12, 40),
    "medium": (80, 2, 40, 300),
    "large": (300, 3, 120, 3000),
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志文斌辉鹏飞晨宇浩然子轩思雨欣怡俊"
_MOBILE_PREFIXES = ("133", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "177", "180",
                    "181", "186", "187", "188", "189", "199")
_SHIFTS = ("早班 08:00-17:00", "中班 12:00-21:00", "晚班 20:00-08:00")
_DEMO_EPOCH = datetime(2026, 11, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _near(rng: random.Random, d: District, km: float) -> dict[str, float]:
    # 1° latitude ≈ 111 km; longitude shrinks with cos(lat) ≈ 0.85 at these latitudes
    return {"lat": round(d.lat + rng.uniform(-km, km) / 111.0, 5),
            "lon": round(d.lon + rng.uniform(-km, km) / 95.0, 5)}


def generate_demo(pack: str, spec: DemoSpec, seed: int, size: str) -> DemoData:
    """Invent customers, devices, engineers and tickets for a line, the same for one seed.

    ``size`` is ``small``, ``medium`` or ``large`` (see ``DEMO_SIZES``). Everything is in
    one city; engineers cover every district so most tickets have someone nearby.
    """
    if size not in DEMO_SIZES:
        raise ValueError(f"演示规模须为 {'/'.join(DEMO_SIZES)} / size must be one of {', '.join(DEMO_SIZES)}")
    n_customers, per_customer, n_engineers, n_tickets = DEMO_SIZES[size]
    # a string seed is hashed with SHA-512 by random: stable across runs and platforms
    rng = random.Random(f"gongdan-demo:{pack}:{seed}:{size}")
    districts = list(spec.districts)
    year = _DEMO_EPOCH.year - 2

    customers: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    for i in range(n_customers):
        d = rng.choice(districts)
        base = spec.customer_names[i % len(spec.customer_names)]
        name = base if i < len(spec.customer_names) else f"{base}（{d.name}{i // len(spec.customer_names) + 1}部）"
        customers.append({
            "id": f"C{i + 1:05d}", "name": name, "phone": _mobile(rng), "region": d.code,
            "address": f"{spec.city}{d.name}{rng.randint(1, 999)}号", "vip": rng.random() < spec.vip_share,
            "location": _near(rng, d, 3.0),
        })
        for _ in range(rng.randint(1, per_customer)):
            devices.append({
                "sn": f"{spec.sn_prefix}-{year}-{len(devices) + 1:06d}", "model": rng.choice(spec.models),
                "customer_id": customers[-1]["id"],
                "installed_at": f"{year - rng.randint(0, 3)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            })

    supervisors = [{"id": f"S{i + 1:03d}", "name": _person(rng), "phone": _mobile(rng), "team": team}
                   for i, team in enumerate(spec.teams)]
    engineers: list[dict[str, Any]] = []
    for i in range(n_engineers):
        d = districts[i % len(districts)]  # every district covered
        t = i % len(supervisors)
        tags = rng.sample(list(spec.skills), k=min(len(spec.skills), rng.randint(2, 4)))
        max_load = rng.choice((4, 5, 6, 8))
        eng: dict[str, Any] = {
            "id": f"E{i + 1:04d}", "name": _person(rng), "phone": _mobile(rng),
            "skills": {tag: rng.randint(2, 5) for tag in tags}, "max_load": max_load,
            "load": rng.randint(0, max_load - 1), "team": supervisors[t]["team"], "supervisor": supervisors[t]["id"],
            "region": d.code, "location": _near(rng, d, 4.0), "shift": rng.choice(_SHIFTS),
            "on_shift": rng.random() < 0.85,
        }
        if spec.engineer_extra:
            eng.update(spec.engineer_extra(rng, eng))
        engineers.append(eng)

    tickets: list[dict[str, Any]] = []
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for dev in devices:
        by_customer.setdefault(dev["customer_id"], []).append(dev)
    minutes = 0
    for i in range(n_tickets):
        cust = rng.choice(customers)
        dev = rng.choice(by_customer[cust["id"]])
        fault = rng.choice(list(spec.faults))
        minutes += rng.randint(5, 90)
        d = next(x for x in districts if x.code == cust["region"])
        ticket: dict[str, Any] = {
            "id": f"T{i + 1:06d}", "category": fault.category,
            "title": f"{dev['model']} {fault.description.split('，')[0][:18]}",
            "description": fault.description, "customer_id": cust["id"], "customer_phone": cust["phone"],
            "device_sn": dev["sn"], "fault_code": fault.fault_code, "region": d.code,
            "location": _near(rng, d, 2.0),
            "reported_at": (_DEMO_EPOCH + timedelta(minutes=minutes)).isoformat(timespec="seconds"),
        }
        if rng.random() < 0.3:
            n = rng.randint(1, 3)
            ticket["attachments"] = [
                {"kind": "photo", "name": f"现场照片{k + 1}.jpg",
                 "url": f"https://files.example.com/{pack}/{ticket['id']}/{k + 1}.jpg"} for k in range(n)
            ]
        ticket.update(fault.fields)
        if spec.ticket_extra:
            ticket.update(spec.ticket_extra(rng, ticket, fault))
        tickets.append(ticket)
    return DemoData(customers=customers, devices=devices, supervisors=supervisors, engineers=engineers,
                    tickets=tickets)


# ---------------------------------------------------------------------------
# the pack


@dataclass(frozen=True, eq=False)  # identity equality: the registry compares packs with `is`
class TemplatePack:
    """One industry template pack: everything the installer writes for one business line.

    ``fields`` are the line-specific form fields (``{"key", "label", "type", "required",
    "options"?, "help"?}``); :meth:`form_schema` adds the base fields. ``states`` is
    ``{"initial", "states": [{"key", "label", "category"}], "transitions": [[from, to]]}``.
    ``rules_source`` is the ``.rules`` text; ``events`` the extra event types it uses (the
    pack's plugin also registers them with ``register_event_types``). ``field_dictionary``
    maps synonyms to canonical keys (联系电话 -> customer_phone). ``message_templates`` maps
    a name (used by the rules' ``template "…"`` and ``survey "…"``) to Jinja2 text rendered
    in a sandbox with ``ticket``, ``engineer``, ``customer``, ``link``, ``line`` in scope.
    ``report_presets`` are ``{"name", "title", "metric", "group_by", "period"}``.
    A field may carry ``"when": {"field": other, "equals": value}`` (or ``"in": [values]``):
    it is shown and required only when the condition holds (choosing 上门 requires an
    address), emitted as JSON Schema ``if``/``then`` so the server enforces what the form
    shows — the same field format the platform's form designer stores.
    ``demo(seed, size)`` returns :class:`DemoData`.
    """

    name: str
    version: str
    title: str
    line_key: str
    line_name: str
    fields: list[dict[str, Any]]
    states: dict[str, Any]
    rules_source: str
    demo: Callable[[int, str], DemoData]
    events: tuple[EventType, ...] = ()
    field_dictionary: dict[str, str] = field(default_factory=dict)
    message_templates: dict[str, str] = field(default_factory=dict)
    report_presets: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    #: the line's ticket-number prefix (WX-20261125-0001); default: the line key's first letters
    prefix: str = ""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError(f"template pack {self.name!r}: " + "; ".join(problems))

    # -- derived views ----------------------------------------------------------
    @property
    def state_keys(self) -> list[str]:
        """The state machine's state keys, in order."""
        return [s["key"] for s in self.states["states"]]

    @property
    def event_names(self) -> list[str]:
        """The names of the extra event types this pack uses."""
        return [e.name for e in self.events]

    @property
    def checksum(self) -> str:
        """SHA-256 of the pack's rules and form: the installer skips an identical re-install."""
        h = hashlib.sha256()
        for part in (self.version, self.rules_source, repr(self.fields), repr(sorted(self.states.items())),
                     repr(sorted(self.field_dictionary.items())), repr(sorted(self.message_templates.items())),
                     repr(self.report_presets), repr([(e.name, e.schema) for e in self.events])):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()

    def form_schema(self) -> dict[str, Any]:
        """The line's form as JSON Schema: base fields first, then the pack's fields."""
        props: dict[str, Any] = {}
        required: list[str] = []
        conditional: list[dict[str, Any]] = []
        for spec in (*BASE_FIELDS, *self.fields):
            props[spec["key"]] = field_schema(spec)
            when = spec.get("when")
            if when:
                test = {"const": when["equals"]} if "equals" in when else {"enum": list(when["in"])}
                conditional.append({"if": {"properties": {when["field"]: test}, "required": [when["field"]]},
                                    "then": {"required": [spec["key"]]}})
            elif spec.get("required"):
                required.append(spec["key"])
        schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                  "title": self.line_name, "type": "object", "properties": props,
                                  "required": required}
        if conditional:
            schema["allOf"] = conditional
        return schema

    def compile(self, *, channels: Iterable[str] | None = None, events: Iterable[str] | None = None,
                run_examples: bool = True) -> CompiledRuleset:
        """Compile the pack's rules against its own form, states and events.

        ``channels``: installed channel names (None: not checked). ``events``: every event
        type plugins add (None: this pack's own). Raises ``gongdan_rules.RulesError``.
        """
        from gongdan_rules import compile_ruleset

        return compile_ruleset(
            self.rules_source, schema=self.form_schema(), channels=channels,
            events=list(events) if events is not None else self.event_names,
            states=self.state_keys, filename=f"{self.name}.rules", run_examples=run_examples,
        )

    def problems(self) -> list[str]:
        """What is structurally wrong with the pack (empty when it is well formed)."""
        out: list[str] = []
        if not SEMVER.match(self.version):
            out.append(f"version {self.version!r} is not semver")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name) or not re.fullmatch(r"[a-z][a-z0-9_]*", self.line_key):
            out.append("name and line_key must be lowercase identifiers")
        if self.prefix and not re.fullmatch(r"[A-Z][A-Z0-9]{0,15}", self.prefix):
            out.append(f"prefix {self.prefix!r} must be upper-case letters and digits")
        seen: set[str] = set()
        for spec in self.fields:
            key = spec.get("key", "")
            if key in BASE_KEYS or key in RESERVED_KEYS:
                out.append(f"field {key!r} is a base field or reserved; the platform adds it")
            if key in seen:
                out.append(f"field {key!r} is declared twice")
            seen.add(key)
            if spec.get("type") not in FIELD_TYPES:
                out.append(f"field {key!r} has unknown type {spec.get('type')!r}")
            if spec.get("type") in ("select", "multiselect") and not spec.get("options"):
                out.append(f"field {key!r} needs options")
        keys = [s.get("key") for s in self.states.get("states", [])]
        if self.states.get("initial") not in keys:
            out.append(f"initial state {self.states.get('initial')!r} is not a state")
        for s in self.states.get("states", []):
            if s.get("category") not in STATE_CATEGORIES:
                out.append(f"state {s.get('key')!r} has category {s.get('category')!r}")
        for pair in self.states.get("transitions", []):
            if len(pair) != 2 or any(p not in keys for p in pair):
                out.append(f"transition {pair!r} names an unknown state")
        canonical = BASE_KEYS | seen
        for spec in self.fields:
            when = spec.get("when")
            if when is not None and not (
                isinstance(when, dict) and when.get("field") in canonical and when.get("field") != spec.get("key")
                and ("equals" in when) != ("in" in when)
            ):
                out.append(f"field {spec.get('key')!r}: 'when' must be {{'field': other field, 'equals': value}}"
                           " or {'field', 'in': [values]}")
        for synonym, key in self.field_dictionary.items():
            if key not in canonical:
                out.append(f"field dictionary maps {synonym!r} to unknown field {key!r}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything but the demo generator, as plain JSON-ready data."""
        return {
            "name": self.name, "version": self.version, "title": self.title, "description": self.description,
            "line_key": self.line_key, "line_name": self.line_name, "prefix": self.prefix, "fields": self.fields,
            "form_schema": self.form_schema(), "states": self.states, "rules_source": self.rules_source,
            "events": [{"name": e.name, "title": e.title, "schema": e.schema} for e in self.events],
            "field_dictionary": self.field_dictionary, "message_templates": self.message_templates,
            "report_presets": self.report_presets, "checksum": self.checksum,
        }


# ---------------------------------------------------------------------------
# finding packs


class PackNotFound(LookupError):
    """No installed plugin registers a pack of that name."""


def installed_packs(pm: pluggy.PluginManager | None = None) -> dict[str, PackProtocol]:
    """Pack name -> pack, sorted by name, from every plugin's ``register_template_packs``.

    Usually each is a :class:`TemplatePack`; the hook's protocol only promises ``name``,
    ``version`` and ``title``, so callers that need more check with ``isinstance``.
    """
    from gongdan.plugins import template_packs

    packs = template_packs(pm)
    return {name: packs[name] for name in sorted(packs)}


def load_pack(name: str, pm: pluggy.PluginManager | None = None) -> TemplatePack:
    """The installed pack ``name``; :class:`PackNotFound` lists the installed ones.

    Raises ``TypeError`` when a plugin registered something under that name that is not a
    :class:`TemplatePack` (it cannot be checked, simulated or installed).
    """
    packs = installed_packs(pm)
    if name not in packs:
        have = ", ".join(packs) or "-"
        raise PackNotFound(
            f"没有插件提供模板包 {name}（可用：{have}；请先 pip install 它的软件包）/ no plugin provides "
            f"template pack {name!r} (available: {have}; pip install its package first)"
        )
    pack = packs[name]
    if not isinstance(pack, TemplatePack):
        raise TypeError(f"模板包 {name} 不是 gongdan.packs.TemplatePack / pack {name!r} is a "
                        f"{type(pack).__qualname__}, not a gongdan.packs.TemplatePack")
    return pack
