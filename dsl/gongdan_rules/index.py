"""An index of engineers, so routing among thousands scores only those who can pass.

`compile_ruleset` derives, for each pool, the `require`s an index can answer exactly:

    require engineer.skills[required_skill] >= 3     -> engineers with that skill at level >= 3
    require distance <= 5km                          -> engineers in the grid cells near the ticket
    require engineer.on_shift / engineer.team == "热线" -> engineers with that attribute value
    require product_line in engineer.product_lines   -> engineers whose list holds the value

`CompiledRuleset.route(ticket, index)` intersects those sets and runs the compiled pool on
the survivors only. The pool's own `require`s still run on them, so an index only ever
removes engineers the rules would reject: the ranking is the same as routing the full list.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# Slightly under the true ~111.2 km per degree, so the grid search box always covers the circle.
KM_PER_DEG = 110.0
EARTH_KM = 6371.0088  # the radius the rules' `distance` uses
# The grid search keeps only the cells of each latitude row the circle can reach, for a
# radius widened by TIGHT_SLACK and TIGHT_PAD_KM (what a sphere's second-order terms could
# add); beyond these it keeps the whole square box.
TIGHT_SLACK = 0.02
TIGHT_PAD_KM = 0.1
TIGHT_MAX_KM = 500.0
TIGHT_MAX_LAT = 80.0


@dataclass(frozen=True, slots=True)
class Prefilter:
    """One `require` an index can answer. `kind`: skill | near | eq | contains."""

    kind: str
    require: str  # the require's source text
    attr: str = ""  # engineer attribute (eq, contains)
    ticket_key: str | None = None  # ticket field giving the skill tag (skill) or value (contains)
    value: Any = None  # skill tag literal (skill), attribute value (eq)
    op: str = ">="  # skill: >= > ==
    number: float = 0.0  # skill level bound, or radius in km (near)


class EngineerIndex:
    """Engineers by id, with skill-level buckets, a location grid and attribute indexes.

    Call `update(engineer)` after changing an engineer's skills, location or an indexed
    attribute (`on_shift`, `team`…); values the index does not cover (such as `load`) are
    read from the engineer dicts at routing time.
    """

    def __init__(self, engineers: Iterable[dict[str, Any]] = (), cell_km: float = 2.0) -> None:
        self.cell_deg = cell_km / KM_PER_DEG
        self._by_id: dict[Any, dict[str, Any]] = {}
        self._order: dict[Any, int] = {}
        self._next = 0
        self._skills: dict[Any, dict[int, set[Any]]] = {}
        self._cells: dict[tuple[int, int], set[Any]] = {}
        self._cell_of: dict[Any, tuple[int, int]] = {}
        self._attrs: dict[str, dict[Any, set[Any]]] = {}  # attr -> value -> ids
        self._lists: dict[str, dict[Any, set[Any]]] = {}  # attr -> element -> ids
        for e in engineers:
            self.add(e)

    # ------------------------------------------------------------------ maintenance
    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._by_id.values())

    def __contains__(self, eid: object) -> bool:
        return eid in self._by_id

    def get(self, eid: Any) -> dict[str, Any] | None:
        return self._by_id.get(eid)

    def add(self, engineer: dict[str, Any]) -> None:
        eid = engineer.get("id")
        if eid in self._by_id:
            self.remove(eid)
        self._by_id[eid] = engineer
        self._order[eid] = self._next
        self._next += 1
        skills = engineer.get("skills")
        if isinstance(skills, dict):
            for tag, level in skills.items():
                # the compiled require compares with Python semantics, where True >= 1 holds
                if isinstance(level, int | float) and math.isfinite(level):
                    self._skills.setdefault(tag, {}).setdefault(_level_bucket(level), set()).add(eid)
        cell = self._cell(engineer.get("location"))
        if cell is not None:
            self._cells.setdefault(cell, set()).add(eid)
            self._cell_of[eid] = cell
        for attr, values in self._attrs.items():
            _add_value(values, engineer.get(attr), eid)
        for attr, values in self._lists.items():
            _add_list(values, engineer.get(attr), eid)

    update = add

    def remove(self, eid: Any) -> None:
        engineer = self._by_id.pop(eid, None)
        self._order.pop(eid, None)
        if engineer is None:
            return
        for buckets in self._skills.values():
            for ids in buckets.values():
                ids.discard(eid)
        cell = self._cell_of.pop(eid, None)
        if cell is not None:
            self._cells.get(cell, set()).discard(eid)
        for values in (*self._attrs.values(), *self._lists.values()):
            for ids in values.values():
                ids.discard(eid)

    def _cell(self, loc: Any) -> tuple[int, int] | None:
        try:
            lat, lon = float(loc["lat"]), float(loc["lon"])
        except (TypeError, KeyError, ValueError):
            return None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        return (math.floor(lat / self.cell_deg), math.floor(lon / self.cell_deg))

    # ------------------------------------------------------------------ queries
    def with_skill(self, tag: Any, op: str, bound: float) -> set[Any]:
        """Engineers whose level in `tag` satisfies `level <op> bound` (a superset only by
        the fractional part of a level: the compiled require settles those exactly)."""
        try:
            buckets = self._skills.get(tag)
        except TypeError:
            return set()
        if not buckets:
            return set()
        out: set[Any] = set()
        for bucket, ids in buckets.items():
            # bucket b holds levels in [b, b + 1)
            if (op == ">=" and bucket + 1 > bound) or (op == ">" and bucket + 1 > bound) or (
                op == "==" and bucket <= bound < bucket + 1
            ):
                out |= ids
        return out

    def near(self, loc: Any, radius_km: float) -> set[Any]:
        """Engineers in the grid cells that meet a circle of `radius_km` around `loc`
        (a superset: the compiled `distance` require settles the exact distance)."""
        out: set[Any] = set()
        cells = self._cells
        for cell in self.near_cells(loc, radius_km):
            ids = cells.get(cell)
            if ids:
                out |= ids
        return out

    def near_cells(self, loc: Any, radius_km: float) -> list[tuple[int, int]]:
        """The occupied grid cells that may hold a point within `radius_km` of `loc`.

        Row by row (a row is one band of latitude), the circle's longitude half-width is
        taken at the row's latitude nearest the centre, for a radius widened by TIGHT_SLACK
        (a superset of the great circle's cells: the exact distance is the require's). Past
        TIGHT_MAX_KM or TIGHT_MAX_LAT the square box around the circle is used."""
        centre = self._cell(loc)
        if centre is None or radius_km < 0 or not math.isfinite(radius_km):
            return []
        c = self.cell_deg
        lat, lon = float(loc["lat"]), float(loc["lon"])
        dlat = radius_km / KM_PER_DEG
        cos = max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 1e-6)
        dlon = radius_km / (KM_PER_DEG * cos)
        lo_lat, hi_lat = math.floor((lat - dlat) / c), math.floor((lat + dlat) / c)
        lo_lon, hi_lon = math.floor((lon - dlon) / c), math.floor((lon + dlon) / c)
        rows: list[tuple[int, int, int]] = []
        if radius_km <= TIGHT_MAX_KM and abs(lat) + dlat <= TIGHT_MAX_LAT:
            r = (radius_km * (1 + TIGHT_SLACK) + TIGHT_PAD_KM) / EARTH_KM
            reach = math.sin(r / 2) ** 2
            p0 = math.radians(lat)
            cos0 = math.cos(p0)
            for i in range(lo_lat, hi_lat + 1):
                near_lat = min(max(lat, i * c), (i + 1) * c)
                h = reach - math.sin((math.radians(near_lat) - p0) / 2) ** 2
                if h < 0:
                    continue
                # the row's edge farthest from the equator has the smallest cosine: the widest
                polar = max(abs(i * c), abs((i + 1) * c))
                x = h / (cos0 * math.cos(math.radians(polar)))
                if x >= 1:
                    rows.append((i, lo_lon, hi_lon))
                    continue
                half = math.degrees(2 * math.asin(math.sqrt(x)))
                rows.append((i, max(lo_lon, math.floor((lon - half) / c)), min(hi_lon, math.floor((lon + half) / c))))
        else:
            rows = [(i, lo_lon, hi_lon) for i in range(lo_lat, hi_lat + 1)]
        cells = self._cells
        if sum(b - a + 1 for _, a, b in rows) > 4 * len(cells) + 16:
            span = {i: (a, b) for i, a, b in rows}
            return [(ci, cj) for (ci, cj) in cells
                    if ci in span and span[ci][0] <= cj <= span[ci][1]]
        return [(i, j) for i, a, b in rows for j in range(a, b + 1) if (i, j) in cells]

    def where(self, attr: str, value: Any) -> set[Any]:
        """Engineers whose attribute equals `value` (the index is built on first use)."""
        values = self._attrs.get(attr)
        if values is None:
            values = self._attrs[attr] = {}
            for eid, e in self._by_id.items():
                _add_value(values, e.get(attr), eid)
        try:
            return values.get(_key(value), set())
        except TypeError:
            return set()

    def containing(self, attr: str, value: Any) -> set[Any]:
        """Engineers whose list attribute contains `value`."""
        values = self._lists.get(attr)
        if values is None:
            values = self._lists[attr] = {}
            for eid, e in self._by_id.items():
                _add_list(values, e.get(attr), eid)
        unsure = values.get(_UNSURE, set())
        if value is None:
            return set()
        try:
            return values.get(_member_key(value), set()) | unsure
        except TypeError:
            return set(unsure)

    def ordered(self, ids: Iterable[Any]) -> list[dict[str, Any]]:
        """The engineers with these ids, in the order they were added."""
        order = self._order
        return [self._by_id[i] for i in sorted(ids, key=order.__getitem__)]

    def select(self, ticket: dict[str, Any], prefilters: list[Prefilter]) -> set[Any] | None:
        """The ids every prefilter admits for `ticket`; None when no prefilter applies."""
        result: set[Any] | None = None
        for p in prefilters:
            if p.kind == "skill":
                tag = p.value if p.ticket_key is None else ticket.get(p.ticket_key)
                ids = self.with_skill(tag, p.op, p.number) if tag is not None else set()
            elif p.kind == "near":
                cells = self.near_cells(ticket.get("location"), p.number)
                if result is not None and len(result) < sum(len(self._cells[k]) for k in cells):
                    # fewer survivors than engineers in the cells: test each survivor's cell
                    wanted = set(cells)
                    cell_of = self._cell_of
                    result = {e for e in result if cell_of.get(e) in wanted}
                    if not result:
                        return result
                    continue
                grid = self._cells
                ids = set().union(*(grid[k] for k in cells)) if cells else set()
            elif p.kind == "eq":
                ids = self.where(p.attr, p.value)
            else:
                ids = self.containing(p.attr, ticket.get(p.ticket_key or ""))
            result = set(ids) if result is None else result & ids
            if not result:
                return result
        return result


def _level_bucket(level: float) -> int:
    return math.floor(level)


def _key(value: Any) -> Any:
    # bool True and 1 hash alike; keep them apart, as the rules' `==` does not
    return ("bool", value) if isinstance(value, bool) else value


def _add_value(values: dict[Any, set[Any]], value: Any, eid: Any) -> None:
    with contextlib.suppress(TypeError):  # an unhashable value matches no equality
        values.setdefault(_key(value), set()).add(eid)


def _member_key(value: Any) -> Any:
    # `in` compares with ==, where True == 1 == 1.0: unify numbers the same way
    if isinstance(value, bool | int | float):
        return ("num", float(value))
    return value


_UNSURE = ("unsure",)  # engineers the index cannot judge: the compiled require decides


def _add_list(values: dict[Any, set[Any]], items: Any, eid: Any) -> None:
    if items is None:
        return  # `x in null` is false
    if not isinstance(items, list | tuple | set | frozenset):
        values.setdefault(_UNSURE, set()).add(eid)  # a string (substring test) or a map
        return
    for item in items:
        try:
            values.setdefault(_member_key(item), set()).add(eid)
        except TypeError:
            values.setdefault(_UNSURE, set()).add(eid)
