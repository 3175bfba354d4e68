"""The daily dispatch health report, from the tickets' event record.

For one local day (`date` in `tz`, default today in GONGDAN_TIMEZONE), per line and per
team:

- `created`: tickets created that day;
- `claimed`: tickets first claimed that day (a `claimed` event with no earlier one);
  `mean_claim_min`, `p90_claim_min` (nearest rank), `p0_mean_claim_min`: minutes from the
  ticket's creation to that first claim (P0: tickets of tier P0);
- `respond_due`: tickets whose respond deadline (`respond_by`) falls that day;
  `respond_breached`: those of them with a respond `sla_breached` event;
  `respond_timeout_rate` = breached / due (null with none due);
- `transfers`: `transferred` events that day; `team_transfers`: `transferred` and
  `reassigned` events that day with `cross_team` true; `reassignments`: `reassigned` events;
- `skill_matched` / `skill_rated` / `skill_match_rate`: of the first claims that day on
  tickets naming a `required_skill`, those whose engineer has it at level >= 3 (the
  definition `gongdan simulate` uses: `measures.skill_matched`);
- `escalations`: `escalated` events that day.

A ticket's figures count for the team that holds it at the day's end: the team of the last
engineer who claimed it or was given it (claim, reassign, transfer, the core's assign), or
the team a transfer without an engineer sent it to; a ticket nobody holds (never taken,
released, unassigned) counts under team null (未分配 unassigned). The line's row is the sum
over its teams.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gongdan.domain.reports.measures import MATCH_LEVEL, p90, skill_matched
from gongdan.errors import FieldError, invalid
from gongdan.settings import Settings
from gongdan.store.tables import GdEngineer, GdEvent, GdTicket
from gongdan.timers import clock

MOVES = ("claimed", "reassigned", "transferred", "assigned", "released")  # who holds the ticket
FIGURES = ("claimed", "reassigned", "transferred", "escalated", "sla_breached")  # counted events
COUNTED = (*MOVES, "escalated", "sla_breached")

# (key, 中文, English) in the order of the exports
COLUMNS: list[tuple[str, str, str]] = [
    ("date", "日期", "date"),
    ("line", "产品线", "line"),
    ("team", "班组", "team"),
    ("created", "新建工单", "tickets created"),
    ("claimed", "首次接单", "first claims"),
    ("mean_claim_min", "平均接单用时(分钟)", "mean time to claim (min)"),
    ("p90_claim_min", "P90接单用时(分钟)", "p90 time to claim (min)"),
    ("p0_claimed", "P0接单数", "P0 claims"),
    ("p0_mean_claim_min", "P0平均接单用时(分钟)", "P0 mean time to claim (min)"),
    ("respond_due", "响应到期工单", "tickets due for first response"),
    ("respond_breached", "响应超时", "first-response breaches"),
    ("respond_timeout_rate", "首响超时率", "first-response time-out rate"),
    ("transfers", "转派", "transfers"),
    ("team_transfers", "跨组转派", "transfers between teams"),
    ("reassignments", "改派", "reassignments"),
    ("skill_rated", "可评技能匹配", "claims with a required skill"),
    ("skill_matched", "技能匹配", "skill-tag matches"),
    ("skill_match_rate", "技能匹配率", "skill-tag match rate"),
    ("escalations", "升级", "escalations"),
]
ALL_TEAMS_ZH, ALL_TEAMS_EN = "全部", "all"
UNASSIGNED_ZH, UNASSIGNED_EN = "未分配", "unassigned"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def day_window(settings: Settings, date: str | None, tz: str | None
               ) -> tuple[dt.date, ZoneInfo, dt.datetime, dt.datetime]:
    """(day, zone, start, end) of the local day, or 422 naming the bad parameter."""
    name = tz or settings.timezone
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"时区 {name} 不存在", f"unknown time zone {name}",
                      [FieldError(key="tz", message_zh="时区无效", message_en="unknown time zone")]) from None
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise invalid("日期应为 YYYY-MM-DD", "date must be YYYY-MM-DD",
                          [FieldError(key="date", message_zh="日期无效", message_en="invalid date")]) from None
    else:
        day = clock.now().astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(0), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
    return day, zone, start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _empty() -> dict[str, Any]:
    return {"created": 0, "claimed": 0, "_waits": [], "_p0": [], "respond_due": 0, "respond_breached": 0,
            "transfers": 0, "team_transfers": 0, "reassignments": 0, "skill_rated": 0, "skill_matched": 0,
            "escalations": 0}


def _finish(acc: dict[str, Any]) -> dict[str, Any]:
    waits, p0 = acc.pop("_waits"), acc.pop("_p0")
    acc["mean_claim_min"] = round(statistics.fmean(waits), 2) if waits else None
    p = p90(waits)
    acc["p90_claim_min"] = round(p, 2) if p is not None else None
    acc["p0_claimed"] = len(p0)
    acc["p0_mean_claim_min"] = round(statistics.fmean(p0), 2) if p0 else None
    due = acc["respond_due"]
    acc["respond_timeout_rate"] = round(acc["respond_breached"] / due, 4) if due else None
    rated = acc["skill_rated"]
    acc["skill_match_rate"] = round(acc["skill_matched"] / rated, 4) if rated else None
    return acc


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for k, v in part.items():
        total[k] = total[k] + v


async def dispatch_report(settings: Settings, date: str | None = None, line: str | None = None,
                          tz: str | None = None) -> dict[str, Any]:
    """The day's dispatch health, per line and per team (see the module's docstring)."""
    day, zone, start, end = day_window(settings, date, tz)
    in_day = (GdEvent.at >= start) & (GdEvent.at < end)
    ids = {r["ticket_id"] for r in await GdEvent.select(GdEvent.ticket_id).where(
        in_day & GdEvent.type.is_in(list(FIGURES)))}
    created_q = GdTicket.select(GdTicket.id).where(
        ((GdTicket.created_at >= start) & (GdTicket.created_at < end))
        | ((GdTicket.respond_by >= start) & (GdTicket.respond_by < end)))
    ids |= {r["id"] for r in await created_q}
    tickets: dict[int, dict[str, Any]] = {}
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ordered = sorted(ids)
    for i in range(0, len(ordered), 500):  # bounded IN lists
        chunk = ordered[i:i + 500]
        q = GdTicket.select(GdTicket.id, GdTicket.line_key, GdTicket.tier, GdTicket.created_at,
                            GdTicket.respond_by, GdTicket.fields).where(GdTicket.id.is_in(chunk))
        if line:
            q = q.where(GdTicket.line_key == line)
        for r in await q:
            tickets[r["id"]] = {**r, "fields": _json(r["fields"]) or {}}
        found = [t for t in chunk if t in tickets]
        if not found:
            continue
        for e in await GdEvent.select(GdEvent.ticket_id, GdEvent.seq, GdEvent.type, GdEvent.at, GdEvent.actor,
                                      GdEvent.after, GdEvent.data).where(
                GdEvent.ticket_id.is_in(found) & (GdEvent.at < end) & GdEvent.type.is_in(list(COUNTED))):
            events[e["ticket_id"]].append({**e, "at": clock.aware(e["at"]), "after": _json(e["after"]) or {},
                                           "data": _json(e["data"]) or {}})
    people = {r["key"]: {"team": r["team"], "skills": _json(r["skills"]) or {}}
              for r in await GdEngineer.select(GdEngineer.key, GdEngineer.team, GdEngineer.skills)}

    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    for tid, t in tickets.items():
        evs = sorted(events.get(tid, []), key=lambda e: e["seq"])
        team: str | None = None
        for e in evs:
            if e["type"] == "released":
                team = None  # put back: nobody holds it
            elif e["type"] in MOVES:
                who = e["after"].get("assignee") or (e["actor"] if e["type"] == "claimed" else None)
                team = (people.get(who) or {}).get("team") if who else e["after"].get("team")
        acc = groups.setdefault((t["line_key"], team), _empty())
        created = clock.aware(t["created_at"])
        if start <= created < end:
            acc["created"] += 1
        respond_by = clock.aware(t["respond_by"]) if t["respond_by"] is not None else None
        if respond_by is not None and start <= respond_by < end:
            acc["respond_due"] += 1
            if any(e["type"] == "sla_breached" and e["data"].get("clock") == "respond" for e in evs):
                acc["respond_breached"] += 1
        first = next((e for e in evs if e["type"] == "claimed"), None)
        if first is not None and start <= first["at"] < end:
            acc["claimed"] += 1
            wait = (first["at"] - created).total_seconds() / 60
            acc["_waits"].append(wait)
            if t["tier"] == "P0":
                acc["_p0"].append(wait)
            claimer = first["after"].get("assignee") or first["actor"]
            match = skill_matched((people.get(claimer) or {}).get("skills"), t["fields"])
            if match is not None:
                acc["skill_rated"] += 1
                acc["skill_matched"] += int(match)
        for e in evs:
            if not start <= e["at"] < end:
                continue
            if e["type"] == "transferred":
                acc["transfers"] += 1
            elif e["type"] == "reassigned":
                acc["reassignments"] += 1
            elif e["type"] == "escalated":
                acc["escalations"] += 1
            if e["type"] in ("transferred", "reassigned") and e["data"].get("cross_team"):
                acc["team_transfers"] += 1

    lines_out = []
    for key in sorted({k[0] for k in groups}):
        total = _empty()
        teams = []
        for (_lk, team), acc in sorted(((k, v) for k, v in groups.items() if k[0] == key),
                                      key=lambda kv: (kv[0][1] is None, kv[0][1] or "")):
            _add(total, acc)
            teams.append({"team": team, **_finish(acc)})
        lines_out.append({"line": key, "total": _finish(total), "teams": teams})
    return {"date": day.isoformat(), "tz": zone.key, "from": start.astimezone(zone).isoformat(),
            "to": end.astimezone(zone).isoformat(), "line": line, "match_level": MATCH_LEVEL,
            "lines": lines_out}


def rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per line total and per team, in COLUMNS order."""
    out = []
    for ln in report["lines"]:
        for team, figures in ((f"{ALL_TEAMS_ZH} {ALL_TEAMS_EN}", ln["total"]),
                              *(((t["team"] if t["team"] is not None else f"{UNASSIGNED_ZH} {UNASSIGNED_EN}"), t)
                                for t in ln["teams"])):
            values = {**figures, "date": report["date"], "line": ln["line"], "team": team}
            out.append([values.get(k) for k, _, _ in COLUMNS])
    return out


def headers() -> list[str]:
    """`中文 English` column headers."""
    return [f"{zh} {en}" for _, zh, en in COLUMNS]


def to_csv(report: dict[str, Any]) -> bytes:
    """UTF-8 with a byte-order mark (so Excel reads the Chinese headers)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(headers())
    for r in rows(report):
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(report: dict[str, Any]) -> bytes:
    """One sheet, `派单日报 dispatch`, headers in row 1."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "派单日报 dispatch"
    ws.append(headers())
    for r in rows(report):
        ws.append(r)
    ws.freeze_panes = "D2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _fmt(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key.endswith("_rate"):
        return f"{v:.1%}"
    return f"{v:g}" if isinstance(v, float) else str(v)


def to_text(report: dict[str, Any]) -> str:
    """A plain table for the terminal."""
    lines = [f"派单日报 dispatch report {report['date']} ({report['tz']})"]
    if not report["lines"]:
        lines.append("当天没有派单记录 / no dispatch activity that day")
    for r in rows(report):
        lines.append("")
        lines.append(f"{r[1]} · {r[2]}")
        for (key, zh, en), v in zip(COLUMNS[3:], r[3:], strict=True):
            lines.append(f"  {zh} {en}: {_fmt(key, v)}")
    return "\n".join(lines)
