"""Engineer lists from CSV and Excel, the way service teams keep them today.

工程师名单导入：CSV 或 Excel（.xlsx），中文或英文表头。每一行都被检查；有任何错误时返回全部
行级错误、不导入任何一行（由调用方在一个事务里写入）。

Columns (Chinese or English header; order free; unknown columns are an error, so a typo
is not silently dropped):

| 中文 | English | value |
| --- | --- | --- |
| 工号 | id | required, unique in the file |
| 姓名 | name | required |
| 技能 | skills | `PLC调试:4; 液压:3` (level 1-5; `,` `;` `、` `；` `，` separate) |
| 负载上限 | max_load | whole number 1-50 (default 5) |
| 班组 | team | |
| 主管 | supervisor | another engineer's id or a user name |
| 区域 | region | 6-digit administrative code |
| 位置 | location | `31.2304,121.4737` (lat,lon) |
| 班次 | shift | `08:00-18:00`, several with `;`; `22:00-06:00` crosses midnight |
| 证书 | certifications | `电工证; 焊工证` |
| 电话 | phone | Chinese mobile, 11 digits |

Only the columns in the file, and only the cells that are not blank, are in each parsed
engineer: an update keeps every stored value the file does not give (a missing column, a
blank cell). A cell of `-` clears an optional value (skills, team, supervisor, region,
location, shift, certifications, phone).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024

COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("工号", "编号", "id", "engineer_id"),
    "name": ("姓名", "名字", "name"),
    "skills": ("技能", "技能标签", "skills"),
    "max_load": ("负载上限", "最大负载", "max_load"),
    "team": ("班组", "团队", "team"),
    "supervisor": ("主管", "上级", "supervisor"),
    "region": ("区域", "区域代码", "region"),
    "location": ("位置", "坐标", "location"),
    "shift": ("班次", "shift"),
    "certifications": ("证书", "certifications"),
    "phone": ("电话", "手机", "手机号", "phone"),
}
REQUIRED = ("id", "name")
CLEAR = "-"  # a cell that clears an optional value
_CLEARED: dict[str, Any] = {"skills": {}, "team": None, "supervisor": None, "region": None,
                            "location": None, "shift": [], "certifications": [], "phone": ""}
_HEADER = {alias.lower(): key for key, aliases in COLUMNS.items() for alias in aliases}
_SEP = re.compile(r"[;,、；，]\s*")
_SHIFT = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: the spreadsheet row (1 = the header), the column, both languages."""

    row: int
    column: str
    message_zh: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "key": self.column, "message_zh": self.message_zh, "message_en": self.message_en}


@dataclass(slots=True)
class ImportResult:
    engineers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_table(data: bytes, filename: str) -> list[list[Any]]:
    """Rows of cells from a .csv (UTF-8, UTF-8 with BOM, or GB18030) or .xlsx file."""
    if len(data) > MAX_BYTES:
        raise ImportProblem(f"文件过大（最多 {MAX_BYTES // 1024 // 1024} MiB）", "file too large")
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith((".csv", ".txt")):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            return [row for row in csv.reader(io.StringIO(text))]
        raise ImportProblem("无法识别文件编码（请用 UTF-8 或 GB18030）", "unknown encoding (use UTF-8 or GB18030)")
    raise ImportProblem("只支持 .csv 和 .xlsx 文件", "only .csv and .xlsx files are supported")


def _read_xlsx(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportProblem(f"无法读取 Excel 文件：{exc}", f"cannot read the Excel file: {exc}") from None
    try:
        ws = wb.worksheets[0]
        return [list(row) for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


class ImportProblem(ValueError):
    """The file as a whole cannot be read."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.message_zh = zh
        self.message_en = en


def parse_engineers(rows: Sequence[Sequence[Any]], *, known_regions: Iterable[str] | None = None) -> ImportResult:
    """Validate the rows (the first is the header). All rows are checked; any error means no
    engineer should be imported."""
    result = ImportResult()
    rows = [r for r in rows if any(c not in (None, "") for c in r)]
    if not rows:
        result.errors.append(RowError(1, "", "文件是空的", "the file is empty"))
        return result
    if len(rows) - 1 > MAX_ROWS:
        result.errors.append(RowError(1, "", f"最多 {MAX_ROWS} 行", f"at most {MAX_ROWS} rows"))
        return result
    header: list[str | None] = []
    for col, cell in enumerate(rows[0], 1):
        label = str(cell or "").strip()
        key = _HEADER.get(label.lower())
        if label and key is None:
            result.errors.append(RowError(1, label, f"未知的列“{label}”；可用：{_column_help()}",
                                          f"unknown column {label!r}; use: {_column_help(en=True)}"))
        if key is not None and key in header:
            result.errors.append(RowError(1, label, f"列“{label}”重复", f"column {label!r} appears twice"))
        header.append(key)
        del col
    for key in REQUIRED:
        if key not in header:
            result.errors.append(RowError(1, key, f"缺少必需的列“{COLUMNS[key][0]}”", f"missing the {key!r} column"))
    if result.errors:
        return result
    regions = set(known_regions) if known_regions is not None else None
    seen: dict[str, int] = {}
    for n, row in enumerate(rows[1:], 2):
        values = {k: row[i] if i < len(row) else None for i, k in enumerate(header) if k}
        engineer, errors = _parse_row(n, values, regions)
        eid = engineer.get("id")
        if eid:
            if eid in seen:
                errors.append(RowError(n, "id", f"工号 {eid} 与第 {seen[eid]} 行重复",
                                       f"id {eid} repeats row {seen[eid]}"))
            else:
                seen[eid] = n
        result.errors.extend(errors)
        result.engineers.append(engineer)
    if result.errors:
        result.engineers = []
    return result


def _column_help(en: bool = False) -> str:
    return ", ".join(aliases[-1] if en else aliases[0] for aliases in COLUMNS.values())


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _parse_row(n: int, v: dict[str, Any], regions: set[str] | None) -> tuple[dict[str, Any], list[RowError]]:
    errors: list[RowError] = []

    def err(col: str, zh: str, en: str) -> None:
        errors.append(RowError(n, col, zh, en))

    e: dict[str, Any] = {"id": _text(v.get("id")), "name": _text(v.get("name"))}
    for key in REQUIRED:
        if not e[key]:
            err(key, f"{COLUMNS[key][0]}不能为空", f"{key} is required")
    given = {k for k in v if k not in REQUIRED and _text(v.get(k))}
    for key in [k for k in given if _text(v.get(k)) == CLEAR]:
        given.discard(key)
        if key not in _CLEARED:
            err(key, f"{COLUMNS[key][0]}不能清空", f"{key} cannot be cleared")
            continue
        e["shifts" if key == "shift" else key] = _CLEARED[key]
    _values(e, v, given, err, regions)
    return e, errors


def _values(e: dict[str, Any], v: dict[str, Any], given: set[str], err: Any,
            regions: set[str] | None) -> None:
    """Parse the given (present, not blank) cells of a row into `e`."""
    skills: dict[str, int] = {}
    for part in filter(None, _SEP.split(_text(v.get("skills")) if "skills" in given else "")):
        tag, _, level = part.replace("：", ":").partition(":")
        tag = tag.strip()
        if not tag:
            err("skills", f"技能“{part}”缺少名称", f"skill {part!r} has no name")
            continue
        try:
            lv = int(level.strip() or "1")
        except ValueError:
            err("skills", f"技能“{tag}”的等级“{level}”不是整数",
                f"skill {tag!r}: level {level!r} is not a whole number")
            continue
        if not 1 <= lv <= 5:
            err("skills", f"技能“{tag}”的等级必须在 1 到 5 之间", f"skill {tag!r}: level must be 1-5")
            continue
        skills[tag] = lv
    if "skills" in given:
        e["skills"] = skills
    raw_load = _text(v.get("max_load")) if "max_load" in given else ""
    if raw_load:
        try:
            e["max_load"] = int(raw_load)
            if not 1 <= e["max_load"] <= 50:
                raise ValueError
        except ValueError:
            err("max_load", f"负载上限“{raw_load}”必须是 1 到 50 的整数",
                f"max_load {raw_load!r} must be a whole number 1-50")
    for key in ("team", "supervisor"):
        if key in given:
            e[key] = _text(v.get(key))
    region = _text(v.get("region")) if "region" in given else ""
    if region:
        if not re.fullmatch(r"\d{6}", region) or (regions is not None and region not in regions):
            err("region", f"区域代码“{region}”不是有效的 6 位行政区划代码",
                f"region {region!r} is not a valid 6-digit code")
        e["region"] = region
    location = _text(v.get("location")) if "location" in given else ""
    if location:
        try:
            lat_s, lon_s = re.split(r"[,，\s]+", location)
            lat, lon = float(lat_s), float(lon_s)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError
            e["location"] = {"lat": lat, "lon": lon}
        except ValueError:
            err("location", f"位置“{location}”应为“纬度,经度”，如 31.2304,121.4737",
                f"location {location!r} must be 'lat,lon', e.g. 31.2304,121.4737")
    shifts = []
    for part in filter(None, re.split(r"[;；]\s*", _text(v.get("shift")) if "shift" in given else "")):
        m = _SHIFT.match(part.strip())
        if not m or int(m[1]) > 24 or int(m[3]) > 24 or int(m[2]) > 59 or int(m[4]) > 59:
            err("shift", f"班次“{part}”应为 08:00-18:00 这样的格式", f"shift {part!r} must look like 08:00-18:00")
            continue
        shifts.append([f"{int(m[1]):02d}:{m[2]}", f"{int(m[3]):02d}:{m[4]}"])
    if "shift" in given:
        e["shifts"] = shifts
    if "certifications" in given:
        e["certifications"] = [c for c in _SEP.split(_text(v.get("certifications"))) if c]
    phone = re.sub(r"[\s-]", "", _text(v.get("phone"))) if "phone" in given else ""
    if phone:
        if not _PHONE.match(phone):
            err("phone", f"电话“{phone}”不是有效的手机号", f"phone {phone!r} is not a valid mobile number")
        e["phone"] = phone
