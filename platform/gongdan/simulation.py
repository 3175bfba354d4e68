"""Dispatch simulation: a month of generated field-service demand, replayed with simulated
time through the line's compiled `route` pools and through the round-robin and
least-loaded baselines that common helpdesks offer, with the same people and the same
claim time-outs for all three.

The model (every random draw comes from one seeded generator, so a seed gives one result):

- A city ~25 km across with industrial parks; engineers with 2-4 skill tags (levels 1-5),
  a load limit, a day or late shift, and a team by district.
- Demand follows the working day (morning and afternoon peaks), with storm days when a
  district's rate triples for a few hours. Descriptions are drawn so the line's SLA tiers
  give a P0 share of a few percent.
- An engineer offered a ticket claims it only when on shift and below their load limit; how
  soon depends on how busy they are and how far away the job is; engineers mostly leave
  work outside their skills for someone else. An offer unclaimed within the pool's `claim
  within` goes to the next candidates; after the pool's reoffer limit, or at 80% of the
  tier's respond-by time (the SLA clock's warning), a supervisor assigns it by hand
  (escalation). A ticket nobody is eligible for waits in the queue and is routed again
  when an engineer frees up or a shift starts.
- Travel takes distance at 30 km/h; the repair takes longer, and fails more often (the
  ticket is transferred to someone else), when the engineer's level in the required
  skill is below 3.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gongdan.domain.reports.measures import skill_matched
from gongdan_rules import CompiledRuleset, EngineerIndex

CENTRE = (31.2304, 121.4737)
SKILLS = ["PLC调试", "液压", "电气", "焊接", "数控", "空压机", "注塑", "机器人"]
CATEGORIES = {"PLC调试": "电气", "电气": "电气", "液压": "机械", "焊接": "机械", "数控": "机械",
              "空压机": "机械", "注塑": "机械", "机器人": "电气"}
DEVICE = {"PLC调试": "PLC", "数控": "数控机床", "空压机": "空压机", "注塑": "注塑机", "机器人": "机器人"}
P0_TEXT = ["3号线注塑机停机，无法启动", "配电柜冒烟", "冷却异常导致停机", "主机无法启动"]
P1_TEXT = ["设备报警灯闪烁", "主轴异响", "液压站漏油", "伺服报警"]
P2_TEXT = ["操作面板按键失灵", "需要例行保养", "显示屏偶有花屏", "润滑油位偏低", "门禁开关松动"]
TEAMS = ["浦东组", "浦西组", "闵行组", "嘉定组"]
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; simulated time, UTC as local for simplicity


def _offset(lat_km: float, lon_km: float) -> dict[str, float]:
    lat = CENTRE[0] + lat_km / 111.2
    lon = CENTRE[1] + lon_km / (111.2 * math.cos(math.radians(CENTRE[0])))
    return {"lat": lat, "lon": lon}


def _team_of(loc: dict[str, float]) -> str:
    north = loc["lat"] >= CENTRE[0]
    east = loc["lon"] >= CENTRE[1]
    return TEAMS[(0 if east else 1) if north else (2 if east else 3)]


@dataclass
class Ticket:
    id: int
    created: datetime
    fields: dict[str, Any]
    tier: str
    respond_within: timedelta
    claimed_at: datetime | None = None
    assignee: str | None = None
    offered: set[str] = field(default_factory=set)
    offer_round: int = 0
    reoffers: int = 2
    transfers: int = 0
    team_transfers: int = 0
    escalated: bool = False
    excluded: set[str] = field(default_factory=set)
    resolved_by: str | None = None


@dataclass
class Result:
    """The figures of one policy's run."""

    policy: str
    tickets: int
    timeout_rate: float
    timeout_rate_in_hours: float
    mean_claim_min: float
    p0_mean_claim_min: float
    p0_tickets: int
    match_rate: float
    transfers_per_100: float
    team_transfers_per_100: float
    escalation_rate: float
    load_cv: float
    unresolved: int

    def row(self) -> list[str]:
        return [
            self.policy, f"{self.timeout_rate:.1%}", f"{self.timeout_rate_in_hours:.1%}",
            f"{self.mean_claim_min:.1f}", f"{self.p0_mean_claim_min:.1f}",
            f"{self.match_rate:.1%}", f"{self.transfers_per_100:.1f}", f"{self.team_transfers_per_100:.1f}",
            f"{self.escalation_rate:.1%}", f"{self.load_cv:.2f}",
        ]


HEADERS = [
    "策略 policy", "首响超时率 first-response time-outs", "其中工作时间 in working hours", "平均接单 mean claim (min)",
    "P0 平均接单 P0 claim (min)", "技能匹配率 skill match", "转派/百单 transfers/100",
    "跨组转派/百单 team transfers/100", "升级率 escalations", "负载离散度 load CV",
]


def make_parks(rng: random.Random) -> list[dict[str, float]]:
    """The industrial parks where the equipment (and so the demand) is."""
    return [_offset(rng.uniform(-10, 10), rng.uniform(-10, 10)) for _ in range(6)]


def make_engineers(n: int, rng: random.Random, parks: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Engineers stationed around the parks (a few anywhere in the city)."""
    engineers = []
    for i in range(n):
        if rng.random() < 0.8:
            park = parks[i % len(parks)]
            home = {"lat": park["lat"] + rng.gauss(0, 0.025), "lon": park["lon"] + rng.gauss(0, 0.025)}
        else:
            r = 12 * math.sqrt(rng.random())
            a = rng.random() * 2 * math.pi
            home = _offset(r * math.sin(a), r * math.cos(a))
        skills = {s: rng.choices([1, 2, 3, 4, 5], [1, 2, 3, 3, 2])[0] for s in rng.sample(SKILLS, rng.randint(2, 4))}
        late = rng.random() < 0.3
        engineers.append({
            "id": f"E{i:03d}", "name": f"工程师{i:03d}", "skills": skills, "load": 0,
            "max_load": rng.choice([3, 4, 4, 5]), "on_shift": False, "location": home, "home": home,
            "team": _team_of(home), "shift": (14, 22) if late else (8, 18), "recent_assignments": [],
            "busy_until": START,
        })
    return engineers


def make_demand(
    days: int, engineers: int, rng: random.Random, parks: list[dict[str, float]]
) -> list[tuple[datetime, dict[str, Any]]]:
    """Ticket arrivals with their fields, in time order."""
    per_day = engineers * 4.0
    hourly = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 2.0, 2.6, 2.4, 1.8, 1.2, 1.8, 2.4, 2.2, 1.8, 1.2,
              0.8, 0.6, 0.5, 0.4, 0.3, 0.2]
    scale = per_day / sum(hourly)
    storms = {d: (rng.randint(8, 14), rng.randrange(4)) for d in range(days) if rng.random() < 0.15}
    out: list[tuple[datetime, dict[str, Any]]] = []
    for day in range(days):
        weekend = (START + timedelta(days=day)).weekday() >= 5
        for hour in range(24):
            rate = hourly[hour] * scale * (0.4 if weekend else 1.0)
            storm = storms.get(day)
            storm_team = None
            if storm and storm[0] <= hour < storm[0] + 3:
                rate *= 3
                storm_team = TEAMS[storm[1]]
            for _ in range(_poisson(rate, rng)):
                at = START + timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))
                out.append((at, _ticket_fields(rng, parks, storm_team)))
    out.sort(key=lambda x: x[0])
    return out


def _poisson(lam: float, rng: random.Random) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _ticket_fields(rng: random.Random, parks: list[dict[str, float]], storm_team: str | None) -> dict[str, Any]:
    skill = rng.choice(SKILLS)
    for _ in range(20):
        park = rng.choice(parks)
        loc = {"lat": park["lat"] + rng.gauss(0, 0.02), "lon": park["lon"] + rng.gauss(0, 0.02)}
        if storm_team is None or _team_of(loc) == storm_team:
            break
    roll = rng.random()
    text = rng.choice(P0_TEXT if roll < 0.05 else P1_TEXT if roll < 0.35 else P2_TEXT)
    return {
        "description": text, "required_skill": skill, "category": CATEGORIES[skill],
        "device_category": DEVICE.get(skill, "其他"), "onsite": rng.random() < 0.85, "location": loc,
        "fault_code": f"E-{rng.randint(200, 399)}",
    }


def _distance(a: dict[str, float], b: dict[str, float]) -> float:
    dlat = (a["lat"] - b["lat"]) * 111.2
    dlon = (a["lon"] - b["lon"]) * 111.2 * math.cos(math.radians(CENTRE[0]))
    return math.hypot(dlat, dlon)


@dataclass
class Offer:
    ranked: list[str]
    batch: int = 1
    claim_within: timedelta = timedelta(minutes=15)
    reoffers: int = 2


class Policy:
    """Chooses whom to offer a ticket to; the rest of the simulation is shared."""

    name = ""

    claim_within = timedelta(minutes=15)
    reoffers = 2

    def candidates(self, ticket: Ticket, engineers: list[dict[str, Any]], now: datetime) -> Offer:
        """Whom to offer the ticket to, in order, and how."""
        raise NotImplementedError


class RulesPolicy(Policy):
    """The line's compiled `route` pools, through an EngineerIndex, as the platform routes."""

    def __init__(self, rs: CompiledRuleset, engineers: list[dict[str, Any]]) -> None:
        self.rs = rs
        self.name = f"规则 rules ({rs.name})"
        self.index = EngineerIndex(engineers)

    def candidates(self, ticket: Ticket, engineers: list[dict[str, Any]], now: datetime) -> Offer:
        for e in engineers:
            if e.pop("_dirty", False):
                self.index.update(e)
        fields = {**ticket.fields, "sla": {"tier": ticket.tier}}
        decision = self.rs.route(fields, self.index, now)
        ranked = [c.engineer_id for c in decision.candidates if c.rank is not None]
        return Offer(
            ranked, max(1, len(decision.offered)), decision.claim_within or self.claim_within,
            self.reoffers if decision.escalate_after is None else decision.escalate_after,
        )


class RoundRobinPolicy(Policy):
    """Next on-shift engineer in a fixed rotation (Freshdesk / Zammad / Frappe style)."""

    name = "轮询 round robin"

    def __init__(self) -> None:
        self.pointer = 0

    def candidates(self, ticket: Ticket, engineers: list[dict[str, Any]], now: datetime) -> Offer:
        n = len(engineers)
        order = [engineers[(self.pointer + k) % n] for k in range(n)]
        self.pointer = (self.pointer + 1) % n
        return Offer([e["id"] for e in order if e["on_shift"]])


class LeastLoadedPolicy(Policy):
    """The on-shift engineer with the fewest open tickets."""

    name = "最少负载 least loaded"

    def candidates(self, ticket: Ticket, engineers: list[dict[str, Any]], now: datetime) -> Offer:
        avail = sorted((e for e in engineers if e["on_shift"]), key=lambda e: (e["load"], e["id"]))
        return Offer([e["id"] for e in avail])


def simulate(
    rs: CompiledRuleset, *, days: int = 30, engineers: int = 50, seed: int = 1,
    progress: Callable[[], None] | None = None,
) -> list[Result]:
    """Run the rules and both baselines on the same generated month; one Result each."""
    results = []
    for make in ("rules", "round_robin", "least_loaded"):
        rng = random.Random(seed)
        parks = make_parks(rng)
        people = make_engineers(engineers, rng, parks)
        demand = make_demand(days, engineers, rng, parks)
        policy: Policy
        if make == "rules":
            policy = RulesPolicy(rs, people)
        elif make == "round_robin":
            policy = RoundRobinPolicy()
        else:
            policy = LeastLoadedPolicy()
        results.append(_run(rs, policy, people, demand, random.Random(seed * 7919 + 1)))
        if progress is not None:
            progress()
    return results


def _run(
    rs: CompiledRuleset, policy: Policy, people: list[dict[str, Any]],
    demand: list[tuple[datetime, dict[str, Any]]], rng: random.Random,
) -> Result:
    by_id = {e["id"]: e for e in people}
    events: list[tuple[datetime, int, str, Any]] = []
    seq = itertools.count()
    tickets: list[Ticket] = []
    waiting: list[Ticket] = []
    resolved_count = dict.fromkeys(by_id, 0)

    def push(at: datetime, kind: str, payload: Any) -> None:
        heapq.heappush(events, (at, next(seq), kind, payload))

    for i, (at, fields) in enumerate(demand):
        decision = rs.classify(fields)
        tier = decision.tier if decision else "P2"
        respond = decision.respond_within if decision else timedelta(hours=4)
        tickets.append(Ticket(i, at, fields, tier, respond))
        push(at, "arrive", tickets[-1])
        # the SLA clock warns at 80% of the respond-by time and escalates to the supervisor
        push(at + respond * 0.8, "sla_warning", tickets[-1])
    end = demand[-1][0] + timedelta(days=2) if demand else START
    t = START
    while t < end:  # shift changes every hour
        push(t, "shift", None)
        t += timedelta(hours=1)

    def set_shifts(now: datetime) -> None:
        for e in people:
            lo, hi = e["shift"]
            on = now.weekday() < 6 and lo <= now.hour < hi
            if on != e["on_shift"]:
                e["on_shift"] = on
                e["_dirty"] = True

    def offer(ticket: Ticket, now: datetime) -> None:
        if ticket.assignee is not None:
            return
        choice = policy.candidates(ticket, people, now)
        fresh = [eid for eid in choice.ranked if eid not in ticket.offered and eid not in ticket.excluded]
        if not fresh:
            if ticket not in waiting:
                waiting.append(ticket)
            return
        round_ = ticket.offer_round
        ticket.reoffers = choice.reoffers
        for eid in fresh[: choice.batch]:
            ticket.offered.add(eid)
            e = by_id[eid]
            delay = _claim_delay(e, ticket, rng)
            if delay is not None:
                push(now + delay, "claim", (ticket, eid))
        push(now + choice.claim_within, "timeout", (ticket, round_))

    def assign(ticket: Ticket, eid: str, now: datetime) -> None:
        e = by_id[eid]
        ticket.assignee = eid
        if ticket.claimed_at is None:
            ticket.claimed_at = now
        e["load"] += 1
        e["recent_assignments"] = [{"category": ticket.fields["category"]}, *e["recent_assignments"][:4]]
        level = e["skills"].get(ticket.fields["required_skill"], 0)
        travel = timedelta(hours=_distance(e["location"], ticket.fields["location"]) / 30) if ticket.fields[
            "onsite"] else timedelta(0)
        work = timedelta(minutes=rng.lognormvariate(math.log(80 if level >= 3 else 140), 0.4))
        start = max(now, e["busy_until"])
        done = start + travel + work
        e["busy_until"] = done
        fail = rng.random() < (0.04 if level >= 3 else 0.3)
        push(done, "done", (ticket, eid, fail))

    while events:
        now, _, kind, payload = heapq.heappop(events)
        if kind == "shift":
            set_shifts(now)
            for ticket in list(waiting):
                waiting.remove(ticket)
                ticket.offered -= {eid for eid in ticket.offered if by_id[eid]["on_shift"]}
                offer(ticket, now)
        elif kind == "arrive":
            offer(payload, now)
        elif kind == "claim":
            ticket, eid = payload
            e = by_id[eid]
            if ticket.assignee is None and e["load"] < e["max_load"] and e["on_shift"]:
                assign(ticket, eid, now)
        elif kind == "timeout":
            ticket, round_ = payload
            if ticket.assignee is not None or round_ != ticket.offer_round:
                continue
            ticket.offer_round += 1
            if ticket.offer_round > ticket.reoffers:
                push(now + timedelta(minutes=20), "escalate", ticket)
            else:
                offer(ticket, now)
        elif kind == "sla_warning":
            if payload.assignee is None and payload.claimed_at is None and not payload.escalated:
                push(now, "escalate", payload)
        elif kind == "escalate":
            ticket = payload
            if ticket.assignee is not None:
                continue
            ticket.escalated = True
            if ticket in waiting:
                waiting.remove(ticket)
            pick = _supervisor_pick(ticket, people)
            if pick is None:
                push(now + timedelta(minutes=30), "escalate", ticket)
            else:
                assign(ticket, pick, now)
        elif kind == "done":
            ticket, eid, fail = payload
            e = by_id[eid]
            e["load"] -= 1
            e["location"] = ticket.fields["location"]
            e["_dirty"] = True
            if fail:
                ticket.transfers += 1
                ticket.excluded.add(eid)
                ticket.assignee = None
                ticket.offered = set()
                ticket.offer_round = 0
                ticket.fields = {**ticket.fields, "_last_team": e["team"]}
                offer(ticket, now)
            else:
                ticket.resolved_by = eid
                resolved_count[eid] += 1
                if "_last_team" in ticket.fields and ticket.fields["_last_team"] != e["team"]:
                    ticket.team_transfers += 1
            for w in list(waiting):
                waiting.remove(w)
                w.offered = set()
                offer(w, now)
    return _measure(policy.name, tickets, people, resolved_count)


def _claim_delay(e: dict[str, Any], ticket: Ticket, rng: random.Random) -> timedelta | None:
    """When (if ever) an offered engineer claims."""
    if not e["on_shift"] or e["load"] >= e["max_load"]:
        return None
    level = e["skills"].get(ticket.fields["required_skill"], 0)
    if rng.random() < (0.85 if level == 0 else 0.5 if level < 3 else 0.05):
        return None  # work outside their skills is mostly left for someone else
    far = _distance(e["location"], ticket.fields["location"]) if ticket.fields["onsite"] else 0
    if far > 15 and rng.random() < 0.4:
        return None
    mean = 4 + 5 * e["load"] + far / 3
    return timedelta(minutes=rng.expovariate(1 / mean))


def _supervisor_pick(ticket: Ticket, people: list[dict[str, Any]]) -> str | None:
    skill = ticket.fields["required_skill"]
    avail = [e for e in people if e["on_shift"] and e["load"] < e["max_load"] and e["id"] not in ticket.excluded]
    if not avail:
        return None
    best = max(avail, key=lambda e: (e["skills"].get(skill, 0) >= 3, -e["load"], e["id"]))
    return str(best["id"])


def _measure(name: str, tickets: list[Ticket], people: list[dict[str, Any]], resolved: dict[str, int]) -> Result:
    claimed = [t for t in tickets if t.claimed_at is not None]
    waits = [(t.claimed_at - t.created).total_seconds() / 60 for t in claimed if t.claimed_at]
    def late(t: Ticket) -> bool:
        return t.claimed_at is None or t.claimed_at - t.created > t.respond_within

    timeouts = sum(1 for t in tickets if late(t))
    in_hours = [t for t in tickets if t.created.weekday() < 5 and 8 <= t.created.hour < 17]
    p0 = [t for t in claimed if t.tier == "P0" and t.claimed_at]
    p0_waits = [(t.claimed_at - t.created).total_seconds() / 60 for t in p0 if t.claimed_at]
    by_id = {e["id"]: e for e in people}
    done = [t for t in tickets if t.resolved_by]
    first_assignees = [t for t in tickets if t.assignee or t.resolved_by]
    matched = sum(  # the daily dispatch report's definition (gongdan.domain.reports.measures)
        1 for t in first_assignees
        if skill_matched(by_id[t.resolved_by or t.assignee or ""]["skills"], t.fields)
    )
    counts = list(resolved.values())
    mean = statistics.fmean(counts) if counts else 0.0
    n = max(1, len(tickets))
    return Result(
        policy=name, tickets=len(tickets), timeout_rate=timeouts / n,
        timeout_rate_in_hours=sum(1 for t in in_hours if late(t)) / max(1, len(in_hours)),
        mean_claim_min=statistics.fmean(waits) if waits else 0.0,
        p0_mean_claim_min=statistics.fmean(p0_waits) if p0_waits else 0.0, p0_tickets=len(p0),
        match_rate=matched / max(1, len(first_assignees)),
        transfers_per_100=100 * sum(t.transfers for t in tickets) / n,
        team_transfers_per_100=100 * sum(t.team_transfers for t in tickets) / n,
        escalation_rate=sum(1 for t in tickets if t.escalated) / n,
        load_cv=(statistics.pstdev(counts) / mean) if mean else 0.0,
        unresolved=len(tickets) - len(done),
    )


def render_table(results: list[Result]) -> str:
    """The side-by-side table, as Markdown."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    lines += ["| " + " | ".join(r.row()) + " |" for r in results]
    return "\n".join(lines)
