"""Measures shared by the daily dispatch report and `gongdan simulate`, so both count the
same thing the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# A ticket's skill tag is its `required_skill` field; an engineer "matches" it with a level
# of at least MATCH_LEVEL in that tag (the level the on-site pool of the repair pack asks).
SKILL_FIELD = "required_skill"
MATCH_LEVEL = 3


def skill_matched(skills: Mapping[str, Any] | None, fields: Mapping[str, Any] | None,
                  level: float = MATCH_LEVEL) -> bool | None:
    """Whether an engineer with `skills` has the ticket's required skill at `level` or more;
    None when the ticket names no skill (it is left out of the match rate)."""
    tag = (fields or {}).get(SKILL_FIELD)
    if not isinstance(tag, str) or not tag:
        return None
    have = (skills or {}).get(tag, 0)
    if isinstance(have, bool) or not isinstance(have, int | float):
        return False
    return have >= level


def p90(values: Sequence[float]) -> float | None:
    """The nearest-rank 90th percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
