"""The fast paths of the generated code decide exactly what the plain versions decide."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gongdan_rules.compiler import _rank_key, _ranked
from gongdan_rules.runtime import distance_from, distance_km, geo_point, parse_ts

from rules.kit import rules

T0 = datetime(2026, 5, 25, 9, 0, tzinfo=UTC)
scores = st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0, math.nan]), st.floats(-2, 2))
loads = st.one_of(st.none(), st.integers(0, 3), st.just("3"), st.just(math.nan), st.just(1.0))
idles = st.one_of(st.none(), st.integers(0, 3).map(lambda m: T0 + timedelta(minutes=m)),
                  st.integers(0, 3).map(lambda m: datetime(2026, 5, 25, 9, m)),  # naive: UTC
                  st.just("2026-05-25T09:01:00Z"), st.just("not a time"))


@st.composite
def rows(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    n = draw(st.integers(0, 8))
    return [({"id": f"e{i}" if draw(st.booleans()) else i, "load": draw(loads), "idle_since": draw(idles)},
             draw(scores), {}) for i in range(n)]


def _reference_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The ranking as documented, written plainly: score (higher first, null and NaN last),
    lower load, longer idle (null first), then id as text."""
    eng, score = row[0], row[1]
    load, idle = eng.get("load"), eng.get("idle_since")
    ts = parse_ts(idle)
    return (
        -score if type(score) in (int, float) and not math.isnan(score) else math.inf,
        load if type(load) in (int, float) else math.inf,
        -math.inf if idle is None else ts.timestamp() if ts is not None else -math.inf,
        str(eng.get("id")),
    )


@settings(max_examples=300, deadline=None)
@given(rows())
def test_ranking_fast_key_equals_the_plain_one(passed: list[tuple[Any, ...]]) -> None:
    expected = sorted(passed, key=_reference_key)
    assert [id(r) for r in _ranked(list(passed))] == [id(r) for r in expected]
    for row in passed:
        a, b = _rank_key(row), _reference_key(row)
        assert a[1:] == b[1:] or (a[1] != a[1] and b[1] != b[1])  # NaN loads are NaN in both


def _old_distance(a: Any, b: Any) -> float | None:
    try:
        lat1, lon1 = float(a["lat"]), float(a["lon"])
        lat2, lon2 = float(b["lat"]), float(b["lon"])
    except (TypeError, KeyError, ValueError):
        return None
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


points = st.one_of(
    st.none(), st.just({}), st.just({"lat": "x", "lon": 1}), st.just([1, 2]), st.just("31,121"),
    st.fixed_dictionaries({"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)}),
    st.fixed_dictionaries({"lat": st.integers(-90, 90), "lon": st.text(alphabet="0123456789.", min_size=1)}),
)


@settings(max_examples=300, deadline=None)
@given(points, points)
def test_distance_from_a_precomputed_point_is_the_same_number(a: Any, b: Any) -> None:
    old = _old_distance(a, b)
    for got in (distance_km(a, b), distance_from(geo_point(a), b)):
        assert got == old or (got is not None and old is not None and math.isnan(got) and math.isnan(old))


def test_small_keyword_lists_are_inlined_and_match_like_large_ones() -> None:
    body = ('sla P0:\n    when description has any ["停机", "ＡＢＣ", "冒烟", "冒烟", ""]\n'
            "    respond 1h\n    resolve 2h\n"
            'sla P1:\n    when description has all ["异响", "漏油"]\n    respond 1h\n    resolve 2h\n')
    rs = rules(body)
    src = rs.python_source()
    assert "KeywordSet" not in src and "'abc' in" in src  # normalised, deduplicated, inline
    assert rs.classify({"description": "车间 abc 报告"}).tier == "P0"  # type: ignore[union-attr]
    assert rs.classify({"description": "设备冒烟"}).tier == "P0"  # type: ignore[union-attr]
    assert rs.classify({"description": "异响，还漏油"}).tier == "P1"  # type: ignore[union-attr]
    assert rs.classify({"description": "只有异响"}) is None
    assert rs.classify({"description": None}) is None
    assert rs.classify({"description": ["停机"]}) is None
    big = rules('sla P0:\n    when description has any [' + ", ".join(f'"词{i}"' for i in range(20))
                + "]\n    respond 1h\n    resolve 2h\n")
    assert "KeywordSet" in big.python_source()
    assert big.classify({"description": "出现词17"}).tier == "P0"  # type: ignore[union-attr]


def test_can_close_lists_failing_stage_names_in_order(repair: Any) -> None:
    lock = repair.can_close({"attachments": [{"kind": "photo"}]})
    assert lock.failing == ["客户验收", "知识沉淀"] and not lock.ok
    assert repair.can_close({"attachments": [{"kind": "video"}], "customer_signature": "张",
                             "root_cause_recorded": True}).ok


def test_a_map_lookup_in_a_slot_behaves_as_the_helper_on_every_kind_of_value() -> None:
    from gongdan_rules.runtime import idx

    rs = rules('route "r":\n    require engineer.skills[required_skill] >= 3\n    score 1\n    offer top 9\n')
    assert "_dget" in rs.python_source()
    skills_values: list[Any] = [{"PLC": 4}, {"PLC": 1}, {0: 5}, [5, 5], "PLC", None, 7, {("a",): 5}]
    required_values: list[Any] = ["PLC", 0, ["PLC"], None, {"x": 1}, 1.0]
    for required in required_values:
        engineers = [{"id": f"e{i}", "skills": s} for i, s in enumerate(skills_values)]
        got = rs.route({"required_skill": required}, engineers)
        expected = []
        for e in engineers:
            level = idx(e["skills"], required)
            if isinstance(level, int | float) and level >= 3:
                expected.append(e["id"])
        assert sorted(got.offered) == sorted(expected), (required, got.offered)
