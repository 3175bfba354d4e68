"""Org sync: an org source's snapshot (``register_org_sources``) written into teams, users
and engineers, idempotently and incrementally.

- Departments become teams (``gd_team``: ``key`` = ``source:department id``, ``parent``,
  ``manager`` = the department's first leader).
- People become users (a department leader: role ``supervisor``; everybody else: role
  ``engineer`` with an engineer row). The user name is the source's user id; an existing
  user of that name is linked, not duplicated, and keeps its role. The engineer's
  ``team`` is the team of their first department; their ``supervisor`` is their own
  leader (WeCom ``direct_leader``) if any, else the nearest department leader above them.
  Their phone, e-mail and ``<source>_userid`` go to the user profile (the outbox reads
  them to address messages).
- Each person's fingerprint is stored (``gd_org_member``): a person whose record did not
  change is not touched, so a second run changes nothing.
- Someone who left (inactive at the source, or absent from a complete snapshot) and still
  owns open tickets is flagged (``gd_engineer.org_status = 'left'``: still listed, never
  routed to); someone who left with none is deactivated (user and engineer inactive;
  their history stays). Nothing is ever deleted. A flagged person whose tickets are all
  closed is deactivated by the next sync; someone who comes back is active again.
- ``since`` (when the last successful sync started) is stored per source and passed to
  ``fetch(since=...)``; an incomplete (incremental) snapshot never deactivates anybody.

The whole sync is one transaction; ``dry_run`` runs it and rolls it back, so its summary
is exactly what a real run would do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import pluggy

from gongdan import plugins
from gongdan.connectors import DeliveryError, SettingsError
from gongdan.domain.engineers.services import touch
from gongdan.domain.lines.states import machine_from_json
from gongdan.errors import ApiError, not_found
from gongdan.hookspecs import OrgDepartment, OrgSnapshot, OrgUser
from gongdan.store.engine import Database
from gongdan.store.tables import (
    GdEngineer,
    GdLine,
    GdOrgMember,
    GdOrgSync,
    GdTeam,
    GdTicket,
    GdUser,
)
from gongdan.timers import clock

log = logging.getLogger("gongdan.org")
Progress = Callable[[str], None]
_KEY = re.compile(r"^[A-Za-z0-9_.\-@\u4e00-\u9fff]{1,100}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class _DryRun(Exception):
    """Raised to roll a dry run back."""


def _fingerprint(value: dict[str, Any]) -> str:
    raw = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _team_key(source: str, dept_id: str | None) -> str | None:
    return f"{source}:{dept_id}" if dept_id else None


def _supervisor(user: OrgUser, depts: dict[str, OrgDepartment]) -> str | None:
    for manager in user.manager_ids:
        if manager and manager != user.id:
            return manager
    dept = depts.get(user.department_ids[0]) if user.department_ids else None
    seen: set[str] = set()
    while dept is not None and dept.id not in seen:
        seen.add(dept.id)
        leaders = [leader for leader in dept.leader_ids if leader != user.id]
        if leaders:
            return leaders[0]
        dept = depts.get(dept.parent_id) if dept.parent_id else None
    return None


async def _closed_states() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in await GdLine.select(GdLine.key, GdLine.states).output(load_json=True):
        machine = machine_from_json(line["states"])
        out[line["key"]] = set(machine.closed_keys()) if machine else set()
    return out


async def _open_tickets(person: str, closed: dict[str, set[str]]) -> int:
    rows = await GdTicket.select(GdTicket.line_key, GdTicket.state).where(
        GdTicket.assignee == person)
    return sum(1 for r in rows if r["state"] not in closed.get(r["line_key"], set()))


class _Sync:
    def __init__(self, source: str, snapshot: OrgSnapshot, now: dt.datetime,
                 progress: Progress) -> None:
        self.source = source
        self.snap = snapshot
        self.now = now
        self.say = progress
        self.counts = {k: 0 for k in (
            "teams_created", "teams_updated", "teams_deactivated", "people_created",
            "people_updated", "people_unchanged", "people_flagged", "people_deactivated",
            "people_reactivated", "people_skipped")}
        self.flagged: list[dict[str, Any]] = []
        self.touched: list[str] = []
        self.depts = {d.id: d for d in snapshot.departments}

    async def teams(self) -> None:
        rows = {r["key"]: r for r in await GdTeam.select().where(GdTeam.source == self.source)}
        seen: set[str] = set()
        for d in self.snap.departments:
            key = _team_key(self.source, d.id)
            assert key is not None
            seen.add(key)
            values = {"name": d.name, "parent": _team_key(self.source, d.parent_id),
                      "manager": d.leader_ids[0] if d.leader_ids else None, "active": True}
            old = rows.get(key)
            if old is None:
                await GdTeam.insert(GdTeam(key=key, source=self.source, updated_at=self.now,
                                           **values))
                self.counts["teams_created"] += 1
            elif any(old[k] != v for k, v in values.items()):
                await GdTeam.update({**{getattr(GdTeam, k): v for k, v in values.items()},
                                     GdTeam.updated_at: self.now}).where(GdTeam.key == key)
                self.counts["teams_updated"] += 1
        if self.snap.complete:
            gone = [k for k, r in rows.items() if k not in seen and r["active"]]
            if gone:
                await GdTeam.update({GdTeam.active: False, GdTeam.updated_at: self.now}).where(
                    GdTeam.key.is_in(gone))
                self.counts["teams_deactivated"] += len(gone)
        self.say(f"teams: {self.counts['teams_created']} created, "
                 f"{self.counts['teams_updated']} updated, "
                 f"{self.counts['teams_deactivated']} deactivated")

    async def people(self) -> None:
        members = {r["source_id"]: r for r in
                   await GdOrgMember.select().where(GdOrgMember.source == self.source)}
        leaders = {leader for d in self.snap.departments for leader in d.leader_ids}
        closed = await _closed_states()
        present: set[str] = set()
        for user in self.snap.users:
            if not _KEY.match(user.id):
                self.counts["people_skipped"] += 1
                log.warning("org sync %s: user id %r cannot be a user name; skipped",
                            self.source, user.id)
                continue
            present.add(user.id)
            member = members.get(user.id)
            if not user.active:
                await self.left(user.id, member, closed)
                continue
            role = "supervisor" if user.id in leaders else "engineer"
            record = {"name": user.name, "mobile": user.mobile, "email": user.email,
                      "title": user.title, "role": role,
                      "team": _team_key(self.source, user.department_ids[0])
                      if user.department_ids else None,
                      "supervisor": _supervisor(user, self.depts)}
            fp = _fingerprint(record)
            if member is not None and member["fingerprint"] == fp \
                    and member["status"] == "active":
                self.counts["people_unchanged"] += 1
                continue
            await self.write(user, record, member, fp)
        if self.snap.complete:
            for source_id, member in members.items():
                if source_id not in present:
                    await self.left(source_id, member, closed)

    async def write(self, user: OrgUser, record: dict[str, Any], member: dict[str, Any] | None,
                    fp: str) -> None:
        person = member["person"] if member else user.id
        users = await GdUser.select().where(GdUser.name == person).output(load_json=True)
        profile: dict[str, Any] = {}
        if users:
            profile = users[0]["profile"] or {}
            if isinstance(profile, str):
                profile = json.loads(profile or "{}")
            if member is None and profile.get(f"{self.source}_userid") != user.id:
                # a local account that merely shares the id's name (e.g. `admin`) is never
                # taken over: its profile would be rewritten and its notifications redirected
                self.counts["people_skipped"] += 1
                log.warning("org sync %s: user id %r is the name of a local account not "
                            "linked to %s; skipped", self.source, user.id, self.source)
                self.say(f"? {user.id} {user.name}: a local user of that name exists and is "
                         f"not linked to {self.source} (profile {self.source}_userid): skipped")
                return
        profile = {**profile, f"{self.source}_userid": user.id, "title": user.title}
        for key, value in (("phone", user.mobile), ("email", user.email)):
            if value:
                profile[key] = value
        if users:
            await GdUser.update({GdUser.display_name: user.name, GdUser.profile: profile,
                                 GdUser.active: True}).where(GdUser.name == person)
            role = users[0]["role"]
        else:
            role = record["role"]
            await GdUser.insert(GdUser(name=person, display_name=user.name, role=role,
                                       profile=profile, created_at=self.now))
        reactivated = member is not None and member["status"] != "active"
        if role == "engineer":
            values = {"name": user.name, "team": record["team"],
                      "supervisor": record["supervisor"],
                      "phone": user.mobile if _MOBILE.match(user.mobile or "") else "",
                      "active": True, "org_status": ""}
            found = await GdEngineer.select().where(GdEngineer.key == person)
            if not found:
                await GdEngineer.insert(GdEngineer(
                    key=person, skills={}, certifications=[], region=None, location=None,
                    shifts=[], on_shift=False, max_load=5, load=0, idle_since=self.now,
                    recent=[], created_at=self.now, updated_at=self.now, **values))
                self.touched.append(person)
            elif any(found[0][k] != v for k, v in values.items()):
                await GdEngineer.update({**{getattr(GdEngineer, k): v for k, v in values.items()},
                                         GdEngineer.updated_at: self.now}).where(
                    GdEngineer.key == person)
                self.touched.append(person)
        if member is None:
            await GdOrgMember.insert(GdOrgMember(
                key=f"{self.source}:{user.id}", source=self.source, source_id=user.id,
                person=person, fingerprint=fp, status="active", updated_at=self.now))
            self.counts["people_created"] += 1
            self.say(f"+ {person} {user.name} ({role}, team {record['team']}, "
                     f"supervisor {record['supervisor']})")
        else:
            await GdOrgMember.update({GdOrgMember.fingerprint: fp, GdOrgMember.status: "active",
                                      GdOrgMember.updated_at: self.now}).where(
                GdOrgMember.id == member["id"])
            self.counts["people_reactivated" if reactivated else "people_updated"] += 1
            self.say(f"~ {person} {user.name} (team {record['team']}, "
                     f"supervisor {record['supervisor']})")

    async def left(self, source_id: str, member: dict[str, Any] | None,
                   closed: dict[str, set[str]]) -> None:
        if member is None or member["status"] == "deactivated":
            return  # never synced in, or already handled
        person = member["person"]
        open_count = await _open_tickets(person, closed)
        if open_count:
            if member["status"] != "left":
                await GdEngineer.update({GdEngineer.org_status: "left",
                                         GdEngineer.updated_at: self.now}).where(
                    GdEngineer.key == person)
                self.touched.append(person)
                await GdOrgMember.update({GdOrgMember.status: "left",
                                          GdOrgMember.updated_at: self.now}).where(
                    GdOrgMember.id == member["id"])
                self.counts["people_flagged"] += 1
                self.say(f"! {person} left but owns {open_count} open ticket(s): flagged")
            self.flagged.append({"person": person, "open_tickets": open_count})
            return
        await GdEngineer.update({GdEngineer.active: False, GdEngineer.org_status: "left",
                                 GdEngineer.updated_at: self.now}).where(GdEngineer.key == person)
        await GdUser.update({GdUser.active: False}).where(GdUser.name == person)
        await GdOrgMember.update({GdOrgMember.status: "deactivated",
                                  GdOrgMember.updated_at: self.now}).where(
            GdOrgMember.id == member["id"])
        self.touched.append(person)
        self.counts["people_deactivated"] += 1
        self.say(f"- {person} left: deactivated")


async def sync(db: Database, source: str, *, dry_run: bool = False,
               pm: pluggy.PluginManager | None = None,
               progress: Progress | None = None) -> dict[str, Any]:
    """Sync teams and people from org source ``source``; returns the summary."""
    say = progress or (lambda _: None)
    sources = plugins.org_sources(pm)
    org = sources.get(source)
    if org is None:
        raise not_found("组织架构来源", "org source", f"{source} (installed: "
                        f"{', '.join(sorted(sources)) or 'none'})")
    rows = await GdOrgSync.select().where(GdOrgSync.source == source)
    since = rows[0]["since"] if rows else None
    started = clock.now()
    say(f"fetching {source} org chart" + (f" changed since {since.isoformat()}" if since else ""))
    try:
        snapshot: OrgSnapshot = await anyio.to_thread.run_sync(lambda: org.fetch(since=since))
    except SettingsError as exc:
        raise ApiError(409, f"{source} 组织架构同步未配置：{exc}",
                       f"{source} org sync is not configured: {exc}") from None
    except DeliveryError as exc:
        raise ApiError(502, f"读取 {source} 组织架构失败：{exc}",
                       f"reading the {source} org chart failed: {exc}") from None
    say(f"fetched {len(snapshot.departments)} department(s), {len(snapshot.users)} user(s)"
        + ("" if snapshot.complete else " (incremental)"))
    job = _Sync(source, snapshot, started, say)
    try:
        async with db.transaction():
            # one sync per source at a time: the source's row is locked until COMMIT
            await GdOrgSync.insert(GdOrgSync(source=source, summary={})).on_conflict(
                target=GdOrgSync.source, action="DO NOTHING")
            await GdOrgSync.raw("UPDATE gd_org_sync SET source = source WHERE source = {}",
                                source)
            await job.teams()
            await job.people()
            await touch(sorted(set(job.touched)))
            summary = {"source": source, "dry_run": dry_run, "complete": snapshot.complete,
                       "since": since.isoformat() if since else None,
                       "started_at": started.isoformat(), **job.counts,
                       "flagged": job.flagged}
            await GdOrgSync.update({GdOrgSync.since: started, GdOrgSync.synced_at: clock.now(),
                                    GdOrgSync.summary: summary}).where(
                GdOrgSync.source == source)
            if dry_run:
                raise _DryRun
    except _DryRun:
        say("dry run: nothing written")
    changed = sum(v for k, v in job.counts.items()
                  if k not in ("people_unchanged", "people_skipped"))
    summary["changed"] = changed
    say(f"done: {changed} change(s), {job.counts['people_unchanged']} unchanged")
    return summary


async def last_sync(source: str) -> dict[str, Any]:
    """The summary of the last sync of ``source`` (404 before the first)."""
    rows = await GdOrgSync.select().where(GdOrgSync.source == source).output(load_json=True)
    if not rows or rows[0]["synced_at"] is None:
        raise not_found("组织架构同步", "org sync of", source)
    row = rows[0]
    return {**(row["summary"] or {}), "synced_at": row["synced_at"].isoformat()}


async def list_teams(source: str | None = None) -> dict[str, Any]:
    """Teams (from every source, or one), by key."""
    query = GdTeam.select().order_by(GdTeam.key)
    if source:
        query = query.where(GdTeam.source == source)
    return {"items": [{"key": r["key"], "name": r["name"], "parent": r["parent"],
                       "manager": r["manager"], "source": r["source"],
                       "active": bool(r["active"])} for r in await query]}
