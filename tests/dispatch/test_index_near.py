"""EngineerIndex.near keeps every engineer within the radius (the grid's row-by-row circle is
a superset of the great circle), anywhere up to 80 degrees of latitude, for radii up to and
past the tight-circle limit; and it keeps fewer than the square box around the circle."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongdan_rules import EngineerIndex
from gongdan_rules import index as index_module
from gongdan_rules.runtime import distance_km


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lat=st.floats(-79.0, 79.0), lon=st.floats(-170.0, 170.0), radius=st.one_of(
    st.floats(0.0, 30.0), st.floats(30.0, 600.0)), cell_km=st.floats(0.5, 8.0),
    offsets=st.lists(st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)), min_size=1, max_size=60))
def test_near_keeps_everyone_within_the_radius(lat: float, lon: float, radius: float, cell_km: float,
                                                offsets: list[tuple[float, float]]) -> None:
    centre = {"lat": lat, "lon": lon}
    # engineers around the circle's edge: offsets in radii, north and east
    scale_lat = max(radius, 0.5) / 111.0
    scale_lon = scale_lat / max(math.cos(math.radians(lat)), 0.05)
    people = [{"id": i, "location": {"lat": max(-89.9, min(89.9, lat + a * scale_lat)),
                                      "lon": max(-179.9, min(179.9, lon + b * scale_lon))}}
              for i, (a, b) in enumerate(offsets)]
    index = EngineerIndex(people, cell_km=cell_km)
    found = index.near(centre, radius)
    for e in people:
        d = distance_km(centre, e["location"])
        assert d is not None
        if d <= radius:
            assert e["id"] in found, (d, radius, e)


def test_near_is_tighter_than_the_box(monkeypatch: pytest.MonkeyPatch) -> None:
    # engineers on a fine grid around Shanghai; the circle holds about pi/4 of its box
    people = [{"id": (i, j), "location": {"lat": 31.0 + i * 0.005, "lon": 121.2 + j * 0.005}}
              for i in range(100) for j in range(100)]
    index = EngineerIndex(people)
    centre = {"lat": 31.25, "lon": 121.45}
    found = index.near(centre, 15)
    within = {e["id"] for e in people if (distance_km(centre, e["location"]) or 0) <= 15}
    assert within <= found
    monkeypatch.setattr(index_module, "TIGHT_MAX_KM", -1.0)  # the square box of cells
    boxed = index.near(centre, 15)
    assert found < boxed and len(found) < 0.85 * len(boxed)
