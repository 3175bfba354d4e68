"""Forms: field definitions -> a versioned JSON Schema, and the validator built from it.

A field is `{"key", "label", "type", "required", "options"?, "help"?, "when"?}`. `when`
makes a field conditional: `{"field": "fault_type", "equals": "电机异响"}` (or `"in": [...]`)
shows and requires it only when the condition holds; it is stored as a JSON Schema
`if/then`, so the server enforces what the form shows. The base fields are added to every
form and are always required.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import msgspec
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from gongdan.errors import FieldError, invalid
from gongdan.regions import is_region_code

FIELD_TYPES = (
    "text",
    "textarea",
    "number",
    "bool",
    "select",
    "multiselect",
    "date",
    "datetime",
    "phone",
    "region",
    "location",
    "device_sn",
    "attachment",
    "signature",
)

PHONE_PATTERN = (
    r"^(?:(?:\+?86[- ]?)?1[3-9]\d{9}"  # mobile
    r"|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?"  # landline with area code, optional extension
    r"|[48]00-?\d{3}-?\d{4})$"  # 400/800 service numbers
)
DEVICE_SN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,63}$"


class FieldValidation(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Extra limits on a field: numbers (`min`, `max`), text (`min_length`, `max_length`,
    `pattern`, a regular expression)."""

    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


class FieldSpec(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One form field as an admin defines it; `default` fills the field when a new ticket
    leaves it out."""

    key: str
    label: str
    type: str
    required: bool = False
    options: list[str] | None = None
    help: str | None = None
    when: dict[str, Any] | None = None
    default: Any = None
    validation: FieldValidation | None = None


BASE_FIELDS: list[FieldSpec] = [
    FieldSpec(key="category", label="类别", type="text", required=True),
    FieldSpec(key="title", label="标题", type="text", required=True),
    FieldSpec(key="description", label="描述", type="textarea", required=True),
    FieldSpec(key="customer_id", label="客户编号", type="text", required=True),
    FieldSpec(key="customer_phone", label="客户电话", type="phone", required=True),
    FieldSpec(key="device_sn", label="设备序列号", type="device_sn", required=True),
    FieldSpec(key="fault_code", label="故障代码", type="text", required=True),
    FieldSpec(key="region", label="地区（行政区划代码）", type="region", required=True),
    FieldSpec(key="location", label="位置", type="location", required=True),
    FieldSpec(key="reported_at", label="报修时间", type="datetime", required=True),
]
BASE_KEYS = {f.key for f in BASE_FIELDS}
# Set by the platform, never by a form: a form field may not use these keys.
RESERVED_KEYS = {
    "id", "number", "line", "state", "sla", "tier", "version", "assignee",
    "attachments", "customer_signature", "root_cause_recorded", "customer",
}  # fmt: skip


@cache
def field_dictionary() -> dict[str, list[str]]:
    """canonical key -> synonyms (the shipped dictionary)."""
    text = resources.files("gongdan").joinpath("data/field_dictionary.json").read_text("utf-8")
    data: dict[str, list[str]] = json.loads(text)
    return data


@cache
def _synonyms() -> dict[str, str]:
    out: dict[str, str] = {}
    for key, names in field_dictionary().items():
        for name in names:
            out[name] = key
            out[name.lower()] = key
    return out


def canonical_key(key: str, synonyms: Mapping[str, str] | None = None) -> str:
    """The canonical key for `key` (客户电话 -> customer_phone), or `key`.

    `synonyms` (synonym -> key, e.g. an installed pack's dictionary for one line) are
    looked up first, then the shipped dictionary."""
    if synonyms:
        found = synonyms.get(key) or synonyms.get(key.lower())
        if found:
            return found
    syn = _synonyms()
    return syn.get(key) or syn.get(key.lower()) or key


def form_synonyms(form: Mapping[str, Any] | None) -> dict[str, str]:
    """The line's own synonyms a stored form version carries (from installed packs)."""
    if not form:
        return {}
    schema = form.get("schema") or form.get("json_schema") or {}
    found = (schema.get("x-gongdan-form") or {}).get("synonyms") or {}
    return {str(k): str(v) for k, v in found.items()}


def canonicalize(values: dict[str, Any], synonyms: Mapping[str, str] | Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Rename synonym keys in ticket input to their canonical keys.

    `synonyms` is a synonym -> key mapping or a stored form (whose own synonyms are used).
    Two keys naming one field (联系电话 and customer_phone) are a 422, never a silent
    overwrite."""
    if synonyms is not None and ("schema" in synonyms or "json_schema" in synonyms):
        synonyms = form_synonyms(synonyms)
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    clashes: list[FieldError] = []
    for k, v in values.items():
        key = canonical_key(k, synonyms)  # type: ignore[arg-type]
        if key in given:
            clashes.append(_err(
                k, f"“{k}”与“{given[key]}”是同一个字段 {key}，只能填写其中一个",
                f"{k!r} and {given[key]!r} both name field {key}; send only one of them"))
            continue
        given[key] = k
        out[key] = v
    if clashes:
        raise invalid("同一字段被填写了两次（同义词与标准键）",
                      "A field was given twice (a synonym and its canonical key)", clashes)
    return out


def _err(key: str, zh: str, en: str) -> FieldError:
    return FieldError(key=key, message_zh=zh, message_en=en)


def normalize_fields(raw: list[FieldSpec], synonyms: Mapping[str, str] | None = None) -> list[FieldSpec]:
    """Check an admin's field list, map synonyms, and put the base fields first.

    `synonyms` are the line's own (from its installed packs), looked up before the shipped
    dictionary.

    A base field given by the admin keeps the admin's label/options/help but stays
    required and keeps its type. Raises a 422 naming every bad field.
    """
    errors: list[FieldError] = []
    seen: dict[str, FieldSpec] = {}
    raw_key: dict[str, str] = {}  # canonical key -> the key as the admin wrote it
    for i, spec in enumerate(raw):
        where = f"fields.{i}"
        key = canonical_key(spec.key, synonyms)
        if not key.isidentifier():
            errors.append(
                _err(where, f"字段键 {spec.key!r} 无效：只能用字母、数字和下划线，且不能以数字开头",
                     f"field key {spec.key!r} is invalid: letters, digits and _, not starting "
                     "with a digit")
            )
            continue
        if key in RESERVED_KEYS:
            errors.append(
                _err(where, f"字段键 {key!r} 由平台保留", f"field key {key!r} is reserved")
            )
            continue
        if key in seen:
            first = raw_key[key]
            if first != spec.key:
                errors.append(_err(where, f"字段 {spec.key!r} 与 {first!r} 是同一个字段 {key}（同义词），只能保留一个",
                                   f"fields {spec.key!r} and {first!r} are both field {key} (synonyms); "
                                   "keep one"))
            else:
                errors.append(_err(where, f"字段键 {key!r} 重复", f"duplicate field key {key!r}"))
            continue
        if spec.type not in FIELD_TYPES:
            errors.append(
                _err(where, f"字段 {key} 的类型 {spec.type!r} 未知，可用：{', '.join(FIELD_TYPES)}",
                     f"field {key} has unknown type {spec.type!r}; known: {', '.join(FIELD_TYPES)}")
            )
            continue
        if spec.type in ("select", "multiselect") and not spec.options:
            errors.append(
                _err(where, f"选择字段 {key} 需要 options", f"select field {key} needs options")
            )
            continue
        problem = _validation_problem(spec)
        if problem:
            errors.append(_err(f"{where}.validation", *problem))
            continue
        seen[key] = msgspec.structs.replace(spec, key=key)
        raw_key[key] = spec.key
    for key, spec in seen.items():
        if spec.when is None:
            continue
        target = spec.when.get("field")
        target = canonical_key(target, synonyms) if isinstance(target, str) else target
        ok = (
            isinstance(target, str)
            and (target in seen or target in BASE_KEYS)
            and target != key
            and (("equals" in spec.when) != ("in" in spec.when))
            and (not isinstance(spec.when.get("in"), (str, dict)))
        )
        if not ok:
            errors.append(
                _err(f"fields.{key}.when",
                     "条件写法：{\"field\": 另一个字段, \"equals\": 值} 或 "
                     "{\"field\", \"in\": [值...]}",
                     "a condition is {\"field\": other field, \"equals\": value} or "
                     "{\"field\", \"in\": [values]}")
            )
        else:
            seen[key] = msgspec.structs.replace(spec, when={**spec.when, "field": target})
    for i, spec in enumerate(raw):
        key = canonical_key(spec.key, synonyms)
        if spec.default is not None and key in seen and key not in BASE_KEYS:
            checker = Draft202012Validator(_property(seen[key]), format_checker=_FORMAT_CHECKER)
            if not checker.is_valid(spec.default):
                errors.append(_err(f"fields.{i}.default", f"字段 {key} 的默认值不符合字段本身的要求",
                                   f"the default of field {key} does not fit the field"))
    if errors:
        raise invalid("表单字段有误", "The form's fields are invalid", errors)
    out: list[FieldSpec] = []
    for base in BASE_FIELDS:
        given = seen.pop(base.key, None)
        if given is None:
            out.append(base)
        else:
            out.append(msgspec.structs.replace(
                base,
                label=given.label or base.label,
                options=given.options,
                help=given.help,
                type=("select" if base.type == "text" and given.type == "select" else base.type),
            ))
    out.extend(seen.values())
    return out


def _validation_problem(spec: FieldSpec) -> tuple[str, str] | None:
    v = spec.validation
    if v is None:
        return None
    if (v.min is not None or v.max is not None) and spec.type != "number":
        return ("min/max 只能用于数字字段", "min/max apply to number fields only")
    texty = spec.type in ("text", "textarea", "phone", "device_sn")
    if (v.min_length is not None or v.max_length is not None or v.pattern) and not texty:
        return ("长度和 pattern 只能用于文本字段", "lengths and pattern apply to text fields only")
    if v.pattern:
        try:
            re.compile(v.pattern)
        except re.error as exc:
            return (f"pattern 不是有效的正则表达式：{exc}", f"pattern is not a valid regex: {exc}")
    if v.min is not None and v.max is not None and v.min > v.max:
        return ("min 不能大于 max", "min may not exceed max")
    return None


def _property(spec: FieldSpec) -> dict[str, Any]:
    prop: dict[str, Any] = {"title": spec.label, "x-gongdan-type": spec.type}
    if spec.help:
        prop["description"] = spec.help
    if spec.default is not None:
        prop["default"] = spec.default
    t = spec.type
    if t in ("text", "textarea"):
        prop.update(type="string", maxLength=500 if t == "text" else 20000)
    elif t == "number":
        prop["type"] = "number"
    elif t == "bool":
        prop["type"] = "boolean"
    elif t == "select":
        prop.update(type="string", enum=list(spec.options or []))
    elif t == "multiselect":
        prop.update(type="array", items={"enum": list(spec.options or [])}, uniqueItems=True)
    elif t == "date":
        prop.update(type="string", format="date")
    elif t == "datetime":
        prop.update(type="string", format="date-time")
    elif t == "phone":
        prop.update(type="string", pattern=PHONE_PATTERN)
    elif t == "region":
        prop.update(type="string", pattern=r"^\d{6}$", format="gongdan-region")
    elif t == "location":
        prop.update(
            type="object",
            properties={
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
            required=["lat", "lon"],
            additionalProperties=False,
        )
    elif t == "device_sn":
        prop.update(type="string", pattern=DEVICE_SN_PATTERN)
    elif t == "attachment":
        prop.update(
            type="array",
            items={
                "type": "object",
                "properties": {"kind": {"type": "string"}, "url": {"type": "string"}},
                "required": ["kind"],
            },
        )
    elif t == "signature":
        prop.update(type="string", minLength=1)
    v = spec.validation
    if v is not None:
        limits = {"minimum": v.min, "maximum": v.max, "minLength": v.min_length,
                  "maxLength": v.max_length}
        prop.update({k: value for k, value in limits.items() if value is not None})
        if v.pattern:
            # a field's own pattern (phone, serial) still holds: both must match
            if "pattern" in prop:
                prop["allOf"] = [{"pattern": v.pattern}]
            else:
                prop["pattern"] = v.pattern
    return prop


def apply_defaults(fields: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """`values` with each missing field that has a default filled in."""
    out = dict(values)
    for f in fields:
        if f.get("default") is not None and f["key"] not in out:
            out[f["key"]] = f["default"]
    return out


def build_schema(title: str, fields: list[FieldSpec], version: int,
                 synonyms: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a form version, plus what a UI needs to draw it.

    `synonyms` (the line's own, from installed packs) are kept with the version under
    `x-gongdan-form.synonyms`, so ticket input is mapped the way the form was saved."""
    properties = {f.key: _property(f) for f in fields}
    required = [f.key for f in fields if f.required and f.when is None]
    conditionals = []
    for f in fields:
        if f.when is None:
            continue
        target = f.when["field"]
        cond = {"const": f.when["equals"]} if "equals" in f.when else {"enum": f.when["in"]}
        conditionals.append(
            {
                "if": {"properties": {target: cond}, "required": [target]},
                "then": {"required": [f.key]},
            }
        )
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "x-gongdan-form": {
            "version": version,
            "fields": [msgspec.to_builtins(f) for f in fields],
        },
    }
    if synonyms:
        keys = {f.key for f in fields}
        schema["x-gongdan-form"]["synonyms"] = {s: k for s, k in sorted(synonyms.items()) if k in keys}
    if conditionals:
        schema["allOf"] = conditionals
    return schema


def _check_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _check_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _check_region(value: object) -> bool:
    return not isinstance(value, str) or is_region_code(value)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_check_datetime)
    checker.checks("date")(_check_date)
    checker.checks("gongdan-region")(_check_region)
    return checker


_FORMAT_CHECKER = _format_checker()
_VALIDATORS: OrderedDict[tuple[str, int], Draft202012Validator] = OrderedDict()
_MAX_CACHED = 256


def clear_cache() -> None:
    """Forget compiled validators (a process switching databases must call this)."""
    _VALIDATORS.clear()


def validator_for(line_key: str, version: int, schema: dict[str, Any]) -> Draft202012Validator:
    """The validator of one form version, compiled once and cached (versions never change)."""
    key = (line_key, version)
    found = _VALIDATORS.get(key)
    if found is None:
        found = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
        _VALIDATORS[key] = found
        if len(_VALIDATORS) > _MAX_CACHED:
            _VALIDATORS.popitem(last=False)
    else:
        _VALIDATORS.move_to_end(key)
    return found


def _label(schema: dict[str, Any], key: str) -> str:
    top = key.split(".", 1)[0]
    prop = schema.get("properties", {}).get(top, {})
    return str(prop.get("title") or top)


_TYPE_ZH = {"string": "文本", "number": "数字", "boolean": "是/否", "object": "对象",
            "array": "列表", "integer": "整数"}  # fmt: skip


def _messages(schema: dict[str, Any], err: ValidationError, key: str) -> tuple[str, str]:
    label = _label(schema, key)
    v = err.validator
    if v == "required":
        return f"{label}：必填", f"{key}: required"
    if v == "additionalProperties":
        return f"{key}：表单中没有这个字段", f"{key}: not a field of this form"
    if v == "type":
        want = err.validator_value
        return (f"{label}：应为{_TYPE_ZH.get(str(want), str(want))}",
                f"{key}: must be of type {want}")
    if v == "enum":
        opts = "、".join(map(str, err.validator_value))
        return f"{label}：只能是 {opts} 之一", f"{key}: must be one of {err.validator_value}"
    if v == "format":
        fmt = err.validator_value
        if fmt == "gongdan-region":
            return (f"{label}：{err.instance!r} 不是有效的行政区划代码",
                    f"{key}: {err.instance!r} is not a known administrative division code")
        if fmt == "date-time":
            return (f"{label}：应为带时区的 ISO 8601 时间，如 2026-11-25T09:30:00+08:00",
                    f"{key}: must be an ISO 8601 time with a zone, e.g. 2026-11-25T09:30:00+08:00")
        return f"{label}：应为 ISO 8601 日期，如 2026-11-25", f"{key}: must be an ISO 8601 date"
    if v == "pattern":
        xtype = schema.get("properties", {}).get(key.split(".", 1)[0], {}).get("x-gongdan-type")
        if xtype == "phone":
            return f"{label}：不是有效的电话号码", f"{key}: not a valid phone number"
        if xtype == "region":
            return f"{label}：应为 6 位行政区划代码", f"{key}: must be a 6-digit division code"
        if xtype == "device_sn":
            return (f"{label}：设备序列号应为 3-64 位字母、数字或 ._/-",
                    f"{key}: a device serial is 3-64 letters, digits or ._/-")
        return f"{label}：格式不正确", f"{key}: does not match the expected pattern"
    if v in ("minimum", "maximum"):
        word_zh = "不能小于" if v == "minimum" else "不能大于"
        word_en = "at least" if v == "minimum" else "at most"
        return (f"{label}：{word_zh} {err.validator_value}",
                f"{key}: must be {word_en} {err.validator_value}")
    if v == "maxLength":
        return (f"{label}：最多 {err.validator_value} 个字符",
                f"{key}: at most {err.validator_value} characters")
    if v == "minLength":
        return (f"{label}：至少 {err.validator_value} 个字符",
                f"{key}: at least {err.validator_value} characters")
    if v == "uniqueItems":
        return f"{label}：选项不能重复", f"{key}: items must be unique"
    return f"{label}：{err.message}", f"{key}: {err.message}"


def field_errors(
    validator: Draft202012Validator, schema: dict[str, Any], values: dict[str, Any]
) -> list[FieldError]:
    """Every problem with `values`, one entry per field, keyed by the field's path."""
    out: dict[str, FieldError] = {}
    for err in validator.iter_errors(values):
        for leaf in _leaves(err):
            path = [str(p) for p in leaf.absolute_path]
            if leaf.validator == "required" and isinstance(leaf.instance, dict):
                missing = [k for k in leaf.validator_value if k not in leaf.instance]
                keys = [".".join([*path, k]) for k in missing]
            elif leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
                allowed = set(leaf.schema.get("properties", {}))
                keys = [".".join([*path, k]) for k in leaf.instance if k not in allowed]
            else:
                keys = [".".join(path) or "$"]
            for key in keys:
                if key in out:
                    continue
                zh, en = _messages(schema, leaf, key)
                out[key] = FieldError(key=key, message_zh=zh, message_en=en)
    return list(out.values())


def _leaves(err: ValidationError) -> list[ValidationError]:
    # allOf/if-then failures wrap the useful error in `context`
    if err.context:
        leaves: list[ValidationError] = []
        for sub in err.context:
            leaves.extend(_leaves(sub))
        return leaves
    return [err]


_ALPHANUM = re.compile(r"\s+")


def search_text(number: str, values: dict[str, Any]) -> str:
    """Lower-cased text a free-text search (`q=`) matches against."""
    parts = [number]
    for value in values.values():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return _ALPHANUM.sub(" ", " ".join(parts)).lower()
