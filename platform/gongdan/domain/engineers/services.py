"""Engineers: records, import, location, shifts; the dicts the rules route with.

An engineer is a `gd_user` with role `engineer` (for the token and the role checks) plus a
`gd_engineer` row keyed by the same name: the dispatch attributes live in real columns so
`load` can be changed with `load = load + 1` inside the transactions that assign and close.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from gongdan.domain.users.services import CurrentUser, ensure_user
from gongdan.errors import ApiError, FieldError, conflict, invalid, not_found
from gongdan.regions import is_region_code, region_codes
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdCounter, GdEngineer, GdUser
from gongdan.timers import clock

EDITORS = ("admin", "dispatcher")
SHIFT_EDITORS = ("admin", "dispatcher", "supervisor")
MANAGERS = ("admin", "dispatcher", "supervisor")
EDITABLE = ("name", "skills", "certifications", "team", "supervisor", "region", "location",
            "shifts", "max_load", "phone", "active", "on_shift")
_JSON = ("skills", "certifications", "location", "shifts", "recent", "reroute_location")
_SHIFT = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")
_KEY = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,100}$")


def now_utc() -> dt.datetime:
    """The platform's (injectable) clock."""
    return clock.now()


def _load_json(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def _iso(value: Any, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return str(value.astimezone(tz).isoformat(timespec="seconds"))


def engineer_out(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The API view of an engineer."""
    tz = ZoneInfo(settings.timezone)
    return {
        "id": row["key"], "name": row["name"], "skills": row["skills"],
        "certifications": row["certifications"], "team": row["team"],
        "supervisor": row["supervisor"], "region": row["region"], "location": row["location"],
        "location_at": _iso(row.get("location_at"), tz), "shifts": row["shifts"],
        "on_shift": bool(row["on_shift"]), "max_load": row["max_load"], "load": row["load"],
        "idle_since": _iso(row.get("idle_since"), tz), "phone": row["phone"] or None,
        "active": bool(row["active"]), "org_status": row.get("org_status") or "",
    }


def routable(row: dict[str, Any]) -> bool:
    """Active and not flagged by the org sync as having left (`org_status`)."""
    return bool(row["active"]) and not row.get("org_status")


def for_rules(row: dict[str, Any]) -> dict[str, Any]:
    """The engineer as the rules see it (`engineer.skills`, `engineer.load`…)."""
    idle = row.get("idle_since")
    if isinstance(idle, dt.datetime):
        idle = (idle if idle.tzinfo else idle.replace(tzinfo=dt.UTC)).isoformat()
    return {
        "id": row["key"], "name": row["name"], "skills": row["skills"] or {},
        "load": int(row["load"]), "max_load": int(row["max_load"]),
        "on_shift": bool(row["on_shift"]), "location": row["location"], "team": row["team"],
        "region": row["region"], "supervisor": row["supervisor"],
        "certifications": row["certifications"] or [], "recent_assignments": row["recent"] or [],
        "idle_since": idle,
    }


# --- validation --------------------------------------------------------------------------


def _err(key: str, zh: str, en: str) -> FieldError:
    return FieldError(key=key, message_zh=zh, message_en=en)


def check_values(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validate engineer attributes; 422 naming every bad field."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    unknown = [k for k in values if k not in (*EDITABLE, "id")]
    for k in unknown:
        errors.append(_err(k, f"未知字段 {k}", f"unknown field {k}"))
    if creating and values.get("id") is not None:  # without an id, one is given (E0001…)
        eid = values.get("id")
        if not isinstance(eid, str) or not _KEY.match(eid):
            errors.append(_err("id", "工号必填：字母、数字、汉字、_ . -，最多 100 字",
                               "id is required: letters, digits, _ . -, at most 100"))
        else:
            out["key"] = eid
    for k, v in values.items():
        if k in ("id", *unknown):
            continue
        if k == "name":
            if not isinstance(v, str) or not v.strip() or len(v) > 200:
                errors.append(_err(k, "姓名不能为空（最多 200 字）", "name must be 1-200 characters"))
            else:
                out[k] = v.strip()
        elif k == "skills":
            if not isinstance(v, dict) or not all(
                isinstance(t, str) and t.strip() and isinstance(lv, int) and not isinstance(lv, bool)
                and 1 <= lv <= 5 for t, lv in v.items()
            ):
                errors.append(_err(k, "技能应为 {技能: 等级 1-5}", "skills must be {tag: level 1-5}"))
            else:
                out[k] = {t.strip(): lv for t, lv in v.items()}
        elif k == "certifications":
            if not isinstance(v, list) or not all(isinstance(c, str) and c.strip() for c in v):
                errors.append(_err(k, "证书应为文本列表", "certifications must be a list of text"))
            else:
                out[k] = [c.strip() for c in v]
        elif k in ("team", "supervisor"):
            if v is not None and (not isinstance(v, str) or len(v) > 100):
                errors.append(_err(k, "应为最多 100 字的文本", "must be text of at most 100 characters"))
            else:
                out[k] = (v or "").strip() or None
        elif k == "region":
            if v is not None and not is_region_code(v):
                errors.append(_err(k, "区域应为有效的 6 位行政区划代码",
                                   "region must be a valid 6-digit administrative code"))
            else:
                out[k] = v
        elif k == "location":
            loc = _location(v)
            if loc is None and v is not None:
                errors.append(_err(k, "位置应为 {lat, lon}（纬度 -90..90，经度 -180..180）",
                                   "location must be {lat, lon} (lat -90..90, lon -180..180)"))
            else:
                out[k] = loc
        elif k == "shifts":
            if not isinstance(v, list) or not all(
                isinstance(s, list | tuple) and len(s) == 2 and all(isinstance(x, str) and _SHIFT.match(x)
                                                                   for x in s) for s in v
            ):
                errors.append(_err(k, "班次应为 [[\"08:00\", \"18:00\"], …]",
                                   "shifts must be [[\"08:00\", \"18:00\"], ...]"))
            else:
                out[k] = [list(s) for s in v]
        elif k == "max_load":
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 50:
                errors.append(_err(k, "负载上限应为 1 到 50 的整数", "max_load must be a whole number 1-50"))
            else:
                out[k] = v
        elif k == "phone":
            if v is not None and (not isinstance(v, str) or not re.fullmatch(r"1[3-9]\d{9}", v)):
                errors.append(_err(k, "电话应为 11 位手机号", "phone must be an 11-digit mobile number"))
            else:
                out[k] = v or ""
        elif k in ("active", "on_shift"):
            if not isinstance(v, bool):
                errors.append(_err(k, "应为 true 或 false", "must be true or false"))
            else:
                out[k] = v
    if errors:
        raise invalid(f"工程师有 {len(errors)} 个字段不正确", f"{len(errors)} field(s) are invalid", errors)
    return out


def _location(v: Any) -> dict[str, float] | None:
    if not isinstance(v, dict):
        return None
    lat, lon = v.get("lat"), v.get("lon")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (lat, lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {"lat": float(lat), "lon": float(lon)}


# --- reads -------------------------------------------------------------------------------


async def get_row(key: str) -> dict[str, Any]:
    rows = await GdEngineer.select().where(GdEngineer.key == key).output(load_json=True)
    if not rows:
        raise not_found("工程师", "engineer", key)
    return _load_json(rows[0])


def _may_see(user: CurrentUser, key: str) -> bool:
    return user.role in MANAGERS or user.name == key


async def get_engineer(settings: Settings, key: str, user: CurrentUser) -> dict[str, Any]:
    """One engineer; an engineer sees only themselves (others are 404)."""
    if not _may_see(user, key):
        raise not_found("工程师", "engineer", key)
    return engineer_out(await get_row(key), settings)


async def list_engineers(settings: Settings, user: CurrentUser, *, team: str | None = None,
                         on_shift: bool | None = None) -> list[dict[str, Any]]:
    """Every engineer (an engineer: only themselves)."""
    query = GdEngineer.select().order_by(GdEngineer.key)
    conds: list[Any] = []
    if user.role not in MANAGERS:
        conds.append(GdEngineer.key == user.name)
    if team is not None:
        conds.append(GdEngineer.team == team)
    if on_shift is not None:
        conds.append(GdEngineer.on_shift == on_shift)
    if conds:
        query = query.where(*conds)
    return [engineer_out(_load_json(r), settings) for r in await query.output(load_json=True)]


# --- the routing roster: one EngineerIndex per process, refreshed by revision ------------

_REV_KEY = "engineers:rev"
_OWN_REV: contextvars.ContextVar[int | None] = contextvars.ContextVar("gongdan_engineer_rev", default=None)


async def touch(keys: list[str]) -> None:
    """Give these engineers the next roster revision (inside the transaction that changed
    them). The counter row stays locked until COMMIT, so revisions become visible in order:
    a reader that sees revision N sees every revision below it."""
    if not keys:
        return
    rows = await GdEngineer.raw(
        "INSERT INTO gd_counter (key, last) VALUES ({}, 1) "
        "ON CONFLICT (key) DO UPDATE SET last = gd_counter.last + 1 RETURNING last", _REV_KEY)
    rev = int(rows[0]["last"])
    _OWN_REV.set(rev)
    await GdEngineer.update({GdEngineer.rev: rev}).where(GdEngineer.key.is_in(sorted(set(keys))))


class Roster:
    """This process's engineers as the rules see them, in an `EngineerIndex`, as of `rev`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        from gongdan_rules import EngineerIndex

        self.index = EngineerIndex()
        self.rev = 0

    async def current(self) -> tuple[Any, list[dict[str, Any]]]:
        """(the index, this transaction's own uncommitted changes to lay over it)."""
        found = await GdCounter.select(GdCounter.last).where(GdCounter.key == _REV_KEY)
        latest = int(found[0]["last"]) if found else 0
        if latest == self.rev:
            return self.index, []
        if latest < self.rev:  # another database (tests) or a restore: start again
            self.reset()
        rows = await GdEngineer.select().where(GdEngineer.rev > self.rev).output(load_json=True)
        own = _OWN_REV.get()
        mine: list[dict[str, Any]] = []
        top = self.rev
        for row in rows:
            row = _load_json(row)
            if own is not None and row["rev"] == own:  # not committed yet: never cached
                mine.append(row)
                continue
            top = max(top, int(row["rev"]))
            if routable(row):
                self.index.add(for_rules(row))
            else:
                self.index.remove(row["key"])
        self.rev = top
        return self.index, mine


_ROSTER: list[Any] = [None, None]  # [the engine it belongs to, the Roster]


def _roster() -> Roster:
    from gongdan.store import piccolo_conf

    if _ROSTER[0] is not piccolo_conf.DB:  # a new database (held, so its id is never reused)
        _ROSTER[:] = [piccolo_conf.DB, Roster()]
    roster: Roster = _ROSTER[1]
    return roster


class Overlay:
    """`with Overlay(index, rows) as index:` the index with this transaction's own changes
    laid over it for one synchronous routing call, then restored."""

    def __init__(self, index: Any, rows: list[dict[str, Any]]) -> None:
        self.index = index
        self.rows = rows
        self.saved: list[tuple[Any, dict[str, Any] | None]] = []

    def __enter__(self) -> Any:
        for row in self.rows:
            self.saved.append((row["key"], self.index.get(row["key"])))
            if routable(row):
                self.index.add(for_rules(row))
            else:
                self.index.remove(row["key"])
        return self.index

    def __exit__(self, *exc: object) -> None:
        for key, old in reversed(self.saved):
            if old is None:
                if key in self.index:
                    self.index.remove(key)
            else:
                self.index.add(old)


async def routing_index() -> tuple[Any, list[dict[str, Any]]]:
    """The process's routing index and this transaction's own changes (see `Overlay`)."""
    return await _roster().current()


async def routing_engineers(team: str | None = None, keys: list[str] | None = None
                            ) -> list[dict[str, Any]]:
    """Every active engineer (of `team`, or among `keys`) as the rules see them (fresh from
    the database); people flagged by org sync as having left are never routed to."""
    query = GdEngineer.select().where(
        (GdEngineer.active == True) & (GdEngineer.org_status == ""))  # noqa: E712 - SQL, not Python
    if team is not None:
        query = query.where(GdEngineer.team == team)
    if keys is not None:
        if not keys:
            return []
        query = query.where(GdEngineer.key.is_in(list(keys)))
    return [for_rules(_load_json(r)) for r in await query.output(load_json=True)]


async def names(keys: Any) -> dict[str, str]:
    """Display names of these engineers (the key itself when unknown)."""
    keys = list({str(k) for k in keys})
    if not keys:
        return {}
    rows = await GdEngineer.select(GdEngineer.key, GdEngineer.name).where(GdEngineer.key.is_in(keys))
    found = {r["key"]: r["name"] or r["key"] for r in rows}
    return {k: found.get(k, k) for k in keys}


# --- writes ------------------------------------------------------------------------------


def _defaults(values: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {"name": values["key"], "skills": {}, "certifications": [], "team": None,
            "supervisor": None, "region": None, "location": None, "shifts": [], "on_shift": False,
            "max_load": 5, "load": 0, "idle_since": now, "recent": [], "phone": "", "active": True,
            "created_at": now, "updated_at": now, "location_at": now if values.get("location") else None,
            **values}


async def _ensure_user(key: str, name: str) -> None:
    rows = await GdUser.select(GdUser.role).where(GdUser.name == key)
    if rows and rows[0]["role"] != "engineer":
        raise conflict(f"用户 {key} 已存在且角色是 {rows[0]['role']}，不能作为工程师",
                       f"user {key} exists with role {rows[0]['role']}; it cannot be an engineer")
    if not rows:
        await ensure_user(key, "engineer", name)


async def create_engineer(db: Database, settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    """A new engineer (and their user, role engineer); 409 if the id is taken."""
    values = check_values(body, creating=True)
    if "name" not in values:
        raise invalid("姓名必填", "name is required", [_err("name", "姓名必填", "name is required")])
    now = now_utc()
    async with db.transaction():
        if "key" not in values:
            n = await GdEngineer.count() + 1
            while await GdEngineer.exists().where(GdEngineer.key == f"E{n:04d}") or await GdUser.exists().where(
                    GdUser.name == f"E{n:04d}"):
                n += 1
            values["key"] = f"E{n:04d}"
        if await GdEngineer.exists().where(GdEngineer.key == values["key"]):
            raise conflict(f"工程师 {values['key']} 已存在", f"engineer {values['key']} already exists")
        await _ensure_user(values["key"], values["name"])
        await GdEngineer.insert(GdEngineer(**_defaults(values, now)))
        await touch([values["key"]])
    if values.get("on_shift"):
        from gongdan.domain.dispatch import services as dispatch

        await dispatch.drain_all_queues(db, settings, "engineers", [values["key"]])
    return engineer_out(await get_row(values["key"]), settings)


async def update_engineer(db: Database, settings: Settings, key: str, body: dict[str, Any]
                          ) -> dict[str, Any]:
    """Change some attributes (skills, team, max_load, on_shift…)."""
    if "id" in body:
        raise invalid("工号不能修改", "the id cannot be changed", [_err("id", "工号不能修改", "read-only")])
    values = check_values(body, creating=False)
    from gongdan.domain.dispatch import services as dispatch

    async with db.transaction():
        row = await get_row(key)
        if not values:
            return engineer_out(row, settings)
        now = now_utc()
        if (values.get("on_shift") is False and row["on_shift"]) or (
                values.get("active") is False and row["active"]):
            # off shift (a deactivated engineer too): their live offers are withdrawn, locking
            # those tickets before the engineer
            await dispatch.go_off_shift(key, "engineers", now)
        update: dict[Any, Any] = {getattr(GdEngineer, k): v for k, v in values.items()}
        update[GdEngineer.updated_at] = now
        if "location" in values:
            update[GdEngineer.location_at] = now
        if "shifts" in values and values["shifts"] != row["shifts"]:
            update[GdEngineer.shift_state] = None  # a new schedule applies at the next tick
        if values.get("on_shift") and not row["on_shift"] and row["load"] == 0:
            update[GdEngineer.idle_since] = now
        await GdEngineer.update(update).where(GdEngineer.key == key)
        await touch([key])
        if "name" in values:
            await GdUser.update({GdUser.display_name: values["name"]}).where(GdUser.name == key)
    if set(values) & {"on_shift", "max_load", "skills", "team", "region", "location",
                      "certifications", "active"}:
        await dispatch.drain_all_queues(db, settings, "engineers", [key])
    return engineer_out(await get_row(key), settings)


def _distance_km(a: Any, b: Any) -> float | None:
    from gongdan_rules.runtime import distance_km

    return distance_km(a, b)


def reroute_due(row: dict[str, Any], loc: dict[str, float], now: dt.datetime, settings: Settings) -> bool:
    """Whether a location update should route the waiting queues again: the engineer can be
    routed to, and moved more than GONGDAN_LOCATION_REROUTE_KM since the last such re-route,
    or that re-route is older than GONGDAN_LOCATION_REROUTE_MINUTES (or there was none)."""
    if not routable(row):
        return False
    last_at, last_loc = row.get("reroute_at"), row.get("reroute_location")
    if last_at is None or last_loc is None:
        return True
    last_at = clock.aware(last_at)
    if now - last_at >= dt.timedelta(minutes=settings.location_reroute_minutes):
        return True
    moved = _distance_km(last_loc, loc)
    return moved is None or moved > settings.location_reroute_km


async def set_location(db: Database, settings: Settings, key: str, location: Any, user: CurrentUser
                       ) -> dict[str, Any]:
    """The engineer's current position (from the app or a check-in). While tickets wait in a
    queue, an update that moved the engineer far enough (or comes long enough after the last
    re-route, see `reroute_due`) routes the queues again for this engineer; `rerouted` in the
    answer says whether it did (and `offered`, how many waiting tickets got offers)."""
    from gongdan.domain.dispatch import services as dispatch
    from gongdan.store.tables import GdDispatchQueue

    if user.role not in EDITORS and user.name != key:
        raise ApiError(403, "只能更新自己的位置", "you may only update your own location")
    loc = _location(location)
    if loc is None:
        raise invalid("位置应为 {lat, lon}", "location must be {lat, lon}",
                      [_err("location", "位置无效", "invalid location")])
    now = now_utc()
    async with db.transaction():
        row = await get_row(key)
        values: dict[Any, Any] = {GdEngineer.location: loc, GdEngineer.location_at: now,
                                  GdEngineer.updated_at: now}
        due = reroute_due(row, loc, now, settings) and await GdDispatchQueue.exists()
        if due:
            values[GdEngineer.reroute_location] = loc
            values[GdEngineer.reroute_at] = now
        await GdEngineer.update(values).where(GdEngineer.key == key)
        await touch([key])
    offered = await dispatch.drain_all_queues(db, settings, user.name, [key]) if due else 0
    return {**engineer_out(await get_row(key), settings), "rerouted": due, "offered": offered}


async def set_shift(db: Database, settings: Settings, key: str, on: bool, user: CurrentUser
                    ) -> dict[str, Any]:
    """Come on or go off shift; coming on routes the waiting queues again."""
    if user.role not in SHIFT_EDITORS and user.name != key:
        raise ApiError(403, "只能更改自己的在班状态", "you may only change your own shift state")
    from gongdan.domain.dispatch import services as dispatch

    now = now_utc()
    async with db.transaction():
        row = await get_row(key)
        if not on:
            # their live offers are withdrawn; a ticket left without one is routed again
            await dispatch.go_off_shift(key, user.name, now)
        else:
            values: dict[Any, Any] = {GdEngineer.on_shift: on, GdEngineer.updated_at: now}
            if not row["on_shift"] and row["load"] == 0:
                values[GdEngineer.idle_since] = now
            await GdEngineer.update(values).where(GdEngineer.key == key)
            await touch([key])
    if on:
        await dispatch.drain_all_queues(db, settings, user.name, [key])
    return engineer_out(await get_row(key), settings)


async def import_engineers(db: Database, settings: Settings, data: bytes, filename: str
                           ) -> dict[str, Any]:
    """Create or update every engineer of a CSV/XLSX file; any bad row -> 422, nothing stored."""
    from gongdan.engineer_import import ImportProblem, parse_engineers, read_table

    try:
        rows = read_table(data, filename)
    except ImportProblem as exc:
        raise invalid(exc.message_zh, exc.message_en,
                      [_err("file", exc.message_zh, exc.message_en)]) from None
    result = parse_engineers(rows, known_regions=region_codes().keys())
    if not result.ok:
        extra = [RowFieldError(key=e.column, row=e.row, message_zh=e.message_zh, message_en=e.message_en)
                 for e in result.errors]
        raise invalid(f"导入失败：{len(extra)} 处错误，没有导入任何工程师",
                      f"import failed: {len(extra)} error(s); no engineer was imported", list(extra))
    now = now_utc()
    created = updated = 0
    async with db.transaction():
        existing = {r["key"]: r for r in await GdEngineer.select(
            GdEngineer.key, GdEngineer.location, GdEngineer.shifts).where(
            GdEngineer.key.is_in([e["id"] for e in result.engineers])).output(load_json=True)}
        users = {r["name"]: r["role"] for r in await GdUser.select(GdUser.name, GdUser.role).where(
            GdUser.name.is_in([e["id"] for e in result.engineers]))}
        bad = [(n, e["id"]) for n, e in enumerate(result.engineers, 2)
               if users.get(e["id"], "engineer") != "engineer"]
        if bad:
            raise invalid("导入失败：工号与非工程师用户重名", "import failed: ids taken by non-engineer users",
                          [RowFieldError(key="id", row=n, message_zh=f"工号 {i} 已是其他角色的用户",
                                         message_en=f"id {i} is a user with another role")
                           for n, i in bad])
        for e in result.engineers:
            # only what the file gives: a missing column or a blank cell keeps the stored value
            values = {"key": e["id"], **{k: v for k, v in e.items() if k != "id"}}
            if e["id"] in existing:
                old = existing[e["id"]]
                update = {getattr(GdEngineer, k): v for k, v in values.items() if k != "key"}
                update[GdEngineer.updated_at] = now
                if "location" in values and values["location"] != _load_json(dict(old))["location"]:
                    update[GdEngineer.location_at] = now
                if "shifts" in values and values["shifts"] != _load_json(dict(old))["shifts"]:
                    update[GdEngineer.shift_state] = None  # the new schedule applies at the next tick
                await GdEngineer.update(update).where(GdEngineer.key == e["id"])
                if "name" in values:
                    await GdUser.update({GdUser.display_name: values["name"]}).where(GdUser.name == e["id"])
                updated += 1
            else:
                if e["id"] not in users:
                    await GdUser.insert(GdUser(name=e["id"], role="engineer", display_name=e["name"],
                                               profile={}, created_at=now))
                await GdEngineer.insert(GdEngineer(**_defaults(values, now)))
                created += 1
        await touch([e["id"] for e in result.engineers])
    from gongdan.domain.dispatch import services as dispatch

    # skills, teams, places or limits may have changed: waiting tickets are routed again
    await dispatch.drain_all_queues(db, settings, "import", [e["id"] for e in result.engineers])
    return {"created": created, "updated": updated, "total": created + updated, "imported": created + updated}


class RowFieldError(FieldError, kw_only=True):
    """A field error with the spreadsheet row it is on (1 = the header)."""

    row: int


async def ensure_engineer(key: str, name: str, profile: dict[str, Any]) -> None:
    """Create or refresh an engineer from a user profile (the demo's engineers)."""
    values = {k: v for k, v in profile.items() if k in EDITABLE}
    values.setdefault("on_shift", True)
    now = now_utc()
    if await GdEngineer.exists().where(GdEngineer.key == key):
        await GdEngineer.update({getattr(GdEngineer, k): v for k, v in values.items()}
                                ).where(GdEngineer.key == key)
    else:
        await GdEngineer.insert(GdEngineer(**_defaults({"key": key, "name": name, **values}, now)))
    await touch([key])


async def adjust_loads(deltas: dict[str, int], now: dt.datetime) -> None:
    """Add to engineers' loads (in key order, so concurrent transactions never deadlock)."""
    for key in sorted(k for k, d in deltas.items() if d):
        d = deltas[key]
        await GdEngineer.update({GdEngineer.load: GdEngineer.load + d}).where(GdEngineer.key == key)
        if d < 0:
            await GdEngineer.update({GdEngineer.idle_since: now}).where(
                (GdEngineer.key == key) & (GdEngineer.load <= 0))
    await touch([k for k, d in deltas.items() if d])
