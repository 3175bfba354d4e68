"""Dispatch decisions explained in words, Chinese first: the admin's "为什么派给小王而不是小李？"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .runtime import Candidate, RouteDecision

_INPUTS = frozenset({"distance", "skill_fit", "streak", "fatigue"})


@dataclass(frozen=True, slots=True)
class Explanation:
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh}\n{self.en}"


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    if v is None:
        return "空 null"
    return str(v)


def _fmt_en(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "null"
    return _fmt(v)


def _name(names: Mapping[Any, str] | None, eid: Any) -> str:
    return (names or {}).get(eid) or str(eid)


def _values(factors: Mapping[str, Any], en: bool = False) -> str:
    f = _fmt_en if en else _fmt
    return ", ".join(f"{k} = {f(v)}" for k, v in factors.items())


def summary(decision: RouteDecision, names: Mapping[Any, str] | None = None) -> Explanation:
    """One paragraph: the pool, how many were considered and passed, and who was offered."""
    if decision.pool is None:
        return Explanation(
            "没有派单池适用于这张工单（所有派单池的 when 条件都不成立），工单留在队列中。",
            "No routing pool applies to this ticket (no pool's `when` holds); it waits in the queue.",
        )
    ranked = [c for c in decision.candidates if c.rank is not None]
    rejected = [c for c in decision.candidates if c.rejected_by is not None]
    tier = f"（等级 {decision.tier}）" if decision.tier else ""
    tier_en = f" (tier {decision.tier})" if decision.tier else ""
    excluded = f"，另有 {decision.excluded} 人经索引直接排除" if decision.excluded else ""
    excluded_en = f"; {decision.excluded} more were ruled out by the index" if decision.excluded else ""
    head_zh = (f"派单池“{decision.pool}”{tier}：评估 {len(decision.candidates)} 人{excluded}，"
               f"{len(ranked)} 人通过全部条件")
    head_en = (f"Pool \"{decision.pool}\"{tier_en}: {len(decision.candidates)} engineers considered{excluded_en}, "
               f"{len(ranked)} passed every require")
    if not decision.offered:
        return Explanation(head_zh + "；没有可派的人，工单留在队列中。",
                           head_en + "; nobody to offer it to, so it waits in the queue.")
    who = "、".join(_name(names, e) for e in decision.offered)
    who_en = ", ".join(_name(names, e) for e in decision.offered)
    top = ranked[0]
    reasons = _rejection_counts(rejected)
    tail_zh = "".join(f"；{n} 人未通过 `{req}`" for req, n in reasons)
    tail_en = "".join(f"; {n} failed `{req}`" for req, n in reasons)
    return Explanation(
        f"{head_zh}；派给 {who}（第一名得分 {_fmt(top.score)}）{tail_zh}。",
        f"{head_en}; offered to {who_en} (top score {_fmt_en(top.score)}){tail_en}.",
    )


def _rejection_counts(rejected: list[Candidate]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for c in rejected:
        counts[c.rejected_by or ""] = counts.get(c.rejected_by or "", 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def candidate(c: Candidate, names: Mapping[Any, str] | None = None) -> Explanation:
    """One engineer's line: rank, score and its factors, or the require that rejected them."""
    who = _name(names, c.engineer_id)
    if c.rejected_by is not None:
        seen = f"（{_values(c.factors)}）" if c.factors else ""
        seen_en = f" ({_values(c.factors, en=True)})" if c.factors else ""
        return Explanation(f"{who}：未通过条件 `{c.rejected_by}`{seen}", f"{who}: failed `{c.rejected_by}`{seen_en}")
    rank = f"第 {c.rank} 名" if c.rank else "未排名"
    return Explanation(
        f"{who}：{rank}，得分 {_fmt(c.score)}（{_values(c.factors)}）",
        f"{who}: rank {c.rank}, score {_fmt_en(c.score)} ({_values(c.factors, en=True)})",
    )


def why(decision: RouteDecision, chosen: Any, other: Any, names: Mapping[Any, str] | None = None,
        engineers: Mapping[Any, Mapping[str, Any]] | None = None) -> Explanation:
    """Why `chosen` ranks above `other` (engineer ids): the failing require, the factors that
    made the difference, or the tie-break that decided."""
    by_id = {c.engineer_id: c for c in decision.candidates}
    a, b = by_id.get(chosen), by_id.get(other)
    na, nb = _name(names, chosen), _name(names, other)
    q_zh, q_en = f"为什么派给{na}而不是{nb}？", f"Why {na} and not {nb}?"
    if a is None or b is None:
        missing = nb if b is None else na
        hint_zh = "（可能已被索引排除：他没有通过某个可索引的条件）" if decision.excluded else ""
        hint_en = " (perhaps ruled out by the index: a require it answers failed)" if decision.excluded else ""
        return Explanation(f"{q_zh} 这次派单没有评估{missing}{hint_zh}。",
                           f"{q_en} {missing} was not considered in this decision{hint_en}.")
    if b.rejected_by is not None and a.rejected_by is None:
        seen = f"（{_values(b.factors)}）" if b.factors else ""
        seen_en = f" ({_values(b.factors, en=True)})" if b.factors else ""
        return Explanation(f"{q_zh} {nb}未通过条件 `{b.rejected_by}`{seen}，不能接这张单。",
                           f"{q_en} {nb} failed `{b.rejected_by}`{seen_en}, so could not take it.")
    if a.rejected_by is not None:
        return Explanation(f"{q_zh} 其实{na}也未通过条件 `{a.rejected_by}`。",
                           f"{q_en} {na} failed `{a.rejected_by}` too.")
    if a.rank is not None and b.rank is not None and a.rank > b.rank:
        a, b, na, nb = b, a, nb, na
        q_zh, q_en = f"为什么{na}排在{nb}前面？", f"Why does {na} rank above {nb}?"
    if a.score != b.score and a.score is not None:
        diffs = []
        for key in a.factors:
            va, vb = a.factors.get(key), b.factors.get(key)
            if isinstance(va, int | float) and isinstance(vb, int | float) and not isinstance(va, bool) and va != vb:
                diffs.append((key, va, vb))
        # the score's terms first (they add up to the score), largest difference first; then
        # the inputs behind them (distance, skill_fit…)
        diffs.sort(key=lambda d: (d[0] in _INPUTS, -abs(d[1] - d[2])))
        parts_zh = [f"{k}：{_fmt(va)} 对 {_fmt(vb)}" for k, va, vb in diffs[:3]]
        parts_en = [f"{k}: {_fmt_en(va)} vs {_fmt_en(vb)}" for k, va, vb in diffs[:3]]
        score_b = _fmt(b.score) if b.score is not None else "空"
        return Explanation(
            f"{q_zh} {na}得分 {_fmt(a.score)}，高于{nb}的 {score_b}。差别主要在：" + "；".join(parts_zh) + "。",
            f"{q_en} {na} scored {_fmt_en(a.score)}, above {nb}'s {_fmt_en(b.score)}. The main differences: "
            + "; ".join(parts_en) + ".",
        )
    eng = engineers or {}
    ea, eb = eng.get(a.engineer_id, {}), eng.get(b.engineer_id, {})
    if ea.get("load") != eb.get("load"):
        return Explanation(
            f"{q_zh} 两人得分相同（{_fmt(a.score)}），{na}手上的工单更少"
            f"（{_fmt(ea.get('load'))} 对 {_fmt(eb.get('load'))}）。",
            f"{q_en} Equal scores ({_fmt_en(a.score)}); {na} has fewer open tickets "
            f"({_fmt_en(ea.get('load'))} vs {_fmt_en(eb.get('load'))}).",
        )
    if ea.get("idle_since") != eb.get("idle_since"):
        return Explanation(f"{q_zh} 两人得分和负载都相同，{na}空闲的时间更长。",
                           f"{q_en} Equal scores and load; {na} has been idle longer.")
    return Explanation(f"{q_zh} 两人得分、负载、空闲时间都相同，按工号排序。",
                       f"{q_en} Equal scores, load and idle time; ordered by engineer id.")


def report(decision: RouteDecision, names: Mapping[Any, str] | None = None) -> Explanation:
    """The whole decision: the summary, then one line per engineer considered."""
    parts = [summary(decision, names)] + [candidate(c, names) for c in decision.candidates]
    return Explanation("\n".join(p.zh for p in parts), "\n".join(p.en for p in parts))
