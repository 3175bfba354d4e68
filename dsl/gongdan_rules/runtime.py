"""What compiled rules run with: the result types of the public API, and the closed set of
helper functions the generated code may call (it sees nothing else: no builtins)."""

from __future__ import annotations

import math
import unicodedata
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import re2

# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class SlaReason:
    """Why a ticket got its SLA tier: the rule that matched.

    `condition` is the source text of the condition that held (for a tier written
    `a or b`, the first of `a`, `b` that held; None for `otherwise`), `line` its line.
    `matches` lists the keyword tests that found words: `{"field", "keywords"}`, the
    keywords as written in the rules. `why_zh`/`why_en` say it in one sentence.
    `detailed` is False for the reason `classify()` gives by default (the tier's whole
    condition, no keywords: it costs nothing); `classify(..., explain=True)` evaluates
    which part held and which keywords matched.
    """

    tier: str
    otherwise: bool
    condition: str | None
    line: int
    matches: list[dict[str, Any]]
    why_zh: str
    why_en: str
    detailed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "otherwise": self.otherwise,
            "condition": self.condition,
            "line": self.line,
            "matches": [{"field": m["field"], "keywords": list(m["keywords"])} for m in self.matches],
            "why_zh": self.why_zh,
            "why_en": self.why_en,
        }


@dataclass(frozen=True, slots=True)
class SlaDecision:
    """The SLA tier a ticket falls in, and its clock settings; `reason` says why (see SlaReason)."""

    tier: str
    label: str | None
    respond_within: timedelta
    resolve_within: timedelta
    calendar: str | None
    pause_states: list[str]
    bypass_queue: bool
    reason: SlaReason | None = field(default=None, compare=False)

    @property
    def why_zh(self) -> str:
        return self.reason.why_zh if self.reason else ""

    @property
    def why_en(self) -> str:
        return self.reason.why_en if self.reason else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "label": self.label,
            "respond_within": self.respond_within.total_seconds(),
            "resolve_within": self.resolve_within.total_seconds(),
            "calendar": self.calendar,
            "pause_states": list(self.pause_states),
            "bypass_queue": self.bypass_queue,
        }


@dataclass(slots=True)
class Candidate:
    """One engineer considered by a routing decision.

    `score` is None when a `require` rejected the engineer (`rejected_by` is then that
    require's source text) or when the score came out null. `factors` maps each factor
    (an additive term of the score, `distance`, `skill_fit`, `streak`…) to its value; for a
    rejected engineer it holds the values the failing `require` looked at.
    """

    engineer_id: Any
    score: float | None
    factors: dict[str, Any]
    rejected_by: str | None = None
    rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "engineer_id": self.engineer_id,
            "score": self.score,
            "factors": {k: _jsonable(v) for k, v in self.factors.items()},
            "rejected_by": self.rejected_by,
            "rank": self.rank,
        }


@dataclass(slots=True)
class RouteDecision:
    """Which pool took the ticket, who is offered it (in order), and every candidate."""

    pool: str | None
    offered: list[Any]
    candidates: list[Candidate]
    tier: str | None = None
    claim_within: timedelta | None = None
    escalate_after: int | None = None
    escalate_to: dict[str, Any] | None = None
    considered: int = 0  # engineers the pool's requires ran on
    excluded: int = 0  # engineers an index ruled out before scoring (they fail a require)

    def to_dict(self) -> dict[str, Any]:
        return {
            "considered": self.considered,
            "excluded": self.excluded,
            "pool": self.pool,
            "tier": self.tier,
            "offered": list(self.offered),
            "candidates": [c.to_dict() for c in self.candidates],
            "claim_within": self.claim_within.total_seconds() if self.claim_within else None,
            "escalate_after": self.escalate_after,
            "escalate_to": self.escalate_to,
        }


@dataclass(frozen=True, slots=True)
class Notify:
    """`then notify <target> via <channel> [template "<name>"]`."""

    target: dict[str, Any]
    channel: str
    template: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change produced by an event trigger."""

    from_state: str | None
    to_state: str
    notify: list[Notify] = field(default_factory=list)
    event: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class LockResult:
    """Whether the close lock holds; `failing` lists the failing stages in source order."""

    ok: bool
    failing: list[str]

    @property
    def first_failing(self) -> str | None:
        return self.failing[0] if self.failing else None


@dataclass(frozen=True, slots=True)
class DwellRule:
    """`dwell <state> > <after>: …` as data for the timer engine."""

    state: str
    after: timedelta
    escalate: list[dict[str, Any]]
    notify: list[Notify]
    repeat_every: timedelta | None
    line: int


@dataclass(frozen=True, slots=True)
class ArchiveRule:
    """`archive <after> after <state> [then survey "<name>" via <channel>]`."""

    after: timedelta
    state: str
    survey: str | None
    channel: str | None
    line: int


class RulesRuntimeError(Exception):
    """Evaluating a compiled rule failed on the data it was given (e.g. a value of the
    wrong type in an engineer record). Names the rule's line."""

    def __init__(self, message_zh: str, message_en: str, line: int = 0) -> None:
        super().__init__(f"{message_en} (line {line})")
        self.message_zh = message_zh
        self.message_en = message_en
        self.line = line


def _jsonable(v: Any) -> Any:
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


# ------------------------------------------------------------------------------ text

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space: the only compatibility
# characters common in Chinese tickets. Folding them first leaves the NFKD form unchanged, so
# NFKC of the result equals NFKC of the original; most texts are then already normalised
# and skip the (slow, per-character) full NFKC pass.
# A code-point-indexed table (an array, not a dict: str.translate would raise and catch a
# KeyError for every character a dict lacks). Code points past the BMP raise IndexError,
# which translate treats as "unchanged".
_FW_TABLE = array("I", range(0x10000))
for _cp in range(0xFF01, 0xFF5F):
    _FW_TABLE[_cp] = _cp - 0xFEE0
_FW_TABLE[0x3000] = 0x20


@lru_cache(maxsize=8192)
def _norm_str(s: str) -> str:
    """NFKC, then lower case (equal to `unicodedata.normalize("NFKC", s).lower()`)."""
    if s.isascii():
        return s.lower()
    s = s.translate(_FW_TABLE)
    if not unicodedata.is_normalized("NFKC", s):
        s = unicodedata.normalize("NFKC", s)
    return s.lower()


def norm(x: Any) -> str | None:
    """Text as matched by `has`/`matches`: full-width folded to half-width, Latin lower-cased."""
    if isinstance(x, str):
        return _norm_str(x)
    return None


_RE_META = set(".^$*+?()[]{}|\\")


def norm_pattern(pattern: str) -> str:
    """Normalise a regex the way text is normalised, escaping any metacharacter that only
    appears because a full-width character was folded (`（` stays a literal parenthesis)."""
    out = []
    for ch in pattern:
        if ord(ch) < 128:
            out.append(ch.lower() if ch.isalpha() else ch)
            continue
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append("".join("\\" + c if c in _RE_META else c for c in folded))
    return "".join(out)


class KeywordSet:
    """`has any [...]` / `has all [...]` over a constant keyword list.

    Large lists are matched in one pass over the text by RE2 (a DFA over the literal
    alternation: the automaton Aho-Corasick builds), so 1,000 keywords cost about what 10 do.
    """

    __slots__ = ("_regex", "words")
    SMALL = 8

    def __init__(self, words: list[str]) -> None:
        self.words = tuple(dict.fromkeys(_norm_str(w) for w in words if w))
        self._regex: Any = None
        if len(self.words) > self.SMALL:
            opts = re2.Options()
            opts.max_mem = 64 << 20
            self._regex = re2.compile("|".join(re2.escape(w) for w in self.words), opts)

    def __repr__(self) -> str:
        return f"KeywordSet({list(self.words)!r})"

    def any(self, s: str | None) -> bool:
        if s is None:
            return False
        if self._regex is not None:
            return self._regex.search(s) is not None
        return any(w in s for w in self.words)

    def all(self, s: str | None) -> bool:
        if s is None:
            return False
        return all(w in s for w in self.words)


class Regex:
    """A rule's `/…/`: RE2 (linear time) over normalised text, case-insensitive."""

    __slots__ = ("_rx", "pattern")

    def __init__(self, pattern: str) -> None:
        opts = re2.Options()
        opts.case_sensitive = False
        opts.max_mem = 8 << 20
        opts.log_errors = False
        self.pattern = pattern
        self._rx = re2.compile(norm_pattern(pattern), opts)

    def search(self, s: str) -> Any:
        return self._rx.search(s)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


def compile_regex(pattern: str) -> Regex:
    """Compile a rule's regex; raises `re2.error` on a bad pattern."""
    return Regex(pattern)


def regex_search(rx: Any, s: str | None) -> bool:
    return s is not None and rx.search(s) is not None


def has(x: Any, needle: Any) -> bool:
    s = norm(x)
    w = norm(needle)
    return s is not None and w is not None and w in s


def has_any(x: Any, words: Any) -> bool:
    s = norm(x)
    if s is None or not isinstance(words, list | tuple):
        return False
    return any((w := norm(v)) is not None and w in s for v in words)


def has_all(x: Any, words: Any) -> bool:
    s = norm(x)
    if s is None or not isinstance(words, list | tuple):
        return False
    return all((w := norm(v)) is not None and w in s for v in words)


# ------------------------------------------------------------------------------ values

def get(m: Any, key: str) -> Any:
    """`m.key`: None unless m is a map that has the key."""
    if isinstance(m, dict):
        return m.get(key)
    return None


def idx(m: Any, key: Any) -> Any:
    """`m[key]`: maps by key, lists by integer position; anything else is null."""
    if isinstance(m, dict):
        try:
            return m.get(key)
        except TypeError:
            return None
    if isinstance(m, list | tuple) and isinstance(key, int) and not isinstance(key, bool):
        return m[key] if -len(m) <= key < len(m) else None
    return None


def contains(a: Any, b: Any) -> bool:
    """`a in b` with null safety: false when either side is null."""
    if a is None or b is None:
        return False
    if isinstance(b, str):
        return isinstance(a, str) and a in b
    if isinstance(b, list | tuple | set | frozenset | dict):
        try:
            return a in b
        except TypeError:
            return False
    return False


def not_contains(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return not contains(a, b)


def in_set(a: Any, s: frozenset[Any]) -> bool:
    try:
        return a is not None and a in s
    except TypeError:  # an unhashable value (a list or map) is in no set of constants
        return False


def not_in_set(a: Any, s: frozenset[Any]) -> bool:
    try:
        return a is not None and a not in s
    except TypeError:
        return a is not None


def items(xs: Any) -> Any:
    return xs if isinstance(xs, list | tuple) else ()


def count(xs: Any) -> int:
    return len(xs) if isinstance(xs, list | tuple) else 0


def length(x: Any) -> int | None:
    if isinstance(x, str | list | tuple | dict):
        return len(x)
    return None


def lower(x: Any) -> str | None:
    return norm(x)


def _nums(args: tuple[Any, ...]) -> list[Any] | None:
    if len(args) == 1 and isinstance(args[0], list | tuple):
        vals = [v for v in args[0] if v is not None]
        return vals or None
    if any(a is None for a in args):
        return None
    return list(args)


def minimum(*args: Any) -> Any:
    vals = _nums(args)
    return None if vals is None else min(vals)


def maximum(*args: Any) -> Any:
    vals = _nums(args)
    return None if vals is None else max(vals)


def absolute(x: Any) -> Any:
    if x is None:
        return None
    return abs(x)


def parse_ts(x: Any) -> datetime | None:
    if isinstance(x, datetime):
        return x if x.tzinfo else x.replace(tzinfo=UTC)
    if isinstance(x, str):
        try:
            dt = datetime.fromisoformat(x.replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def hours_since(x: Any, now: datetime | None) -> float | None:
    ts = parse_ts(x)
    if ts is None:
        return None
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (now - ts).total_seconds() / 3600.0


def exists(x: Any) -> bool:
    """A value exists when it is not null and not empty ("" , [] and {} do not exist)."""
    if x is None:
        return False
    if isinstance(x, str | list | tuple | dict):
        return len(x) > 0
    return True


def distance_km(a: Any, b: Any) -> float | None:
    """Great-circle distance in km between two {lat, lon} maps; null when either is unknown."""
    return distance_from(geo_point(a), b)


def geo_point(a: Any) -> tuple[float, float, float] | None:
    """A {lat, lon} map as (latitude in radians, its cosine, longitude in degrees), or null.

    Routing computes the ticket's point once and `distance_from` it for every engineer.
    """
    try:
        lat, lon = float(a["lat"]), float(a["lon"])
    except (TypeError, KeyError, ValueError):
        return None
    p = _radians(lat)
    return p, _cos(p), lon


def distance_from(g: tuple[float, float, float] | None, b: Any) -> float | None:
    """Great-circle distance in km from a `geo_point` to a {lat, lon} map; null when either is unknown."""
    if g is None:
        return None
    try:
        lat2, lon2 = float(b["lat"]), float(b["lon"])
    except (TypeError, KeyError, ValueError):
        return None
    p1, c1, lon1 = g
    p2 = _radians(lat2)
    dl = _radians(lon2 - lon1)
    h = _sin((p2 - p1) / 2) ** 2 + c1 * _cos(p2) * _sin(dl / 2) ** 2
    return 2 * 6371.0088 * _asin(min(1.0, _sqrt(h)))


_radians, _cos, _sin, _asin, _sqrt = math.radians, math.cos, math.sin, math.asin, math.sqrt


def skill_fit(skills: Any, required: Any) -> float | None:
    """The engineer's level in the ticket's required skill / 5, clamped to 0..1; null when the
    ticket names no required skill."""
    if required is None:
        return None
    if not isinstance(skills, dict):
        return 0.0
    try:
        level = skills.get(required)
    except TypeError:
        return 0.0
    if not isinstance(level, int | float) or isinstance(level, bool):
        return 0.0
    return max(0.0, min(1.0, level / 5.0))


def streak(recent: Any, path: tuple[str, ...], value: Any) -> int:
    """How many of the engineer's latest assignments in a row share `value` at `path`."""
    if value is None or not isinstance(recent, list | tuple):
        return 0
    k = 0
    for item in recent:
        v = item
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if v != value:
            break
        k += 1
    return k


HELPERS: dict[str, Any] = {
    "_norm": norm,
    "_get": get,
    "_idx": idx,
    "_dget": dict.get,
    "_TypeError": TypeError,
    "_contains": contains,
    "_not_contains": not_contains,
    "_in_set": in_set,
    "_not_in_set": not_in_set,
    "_items": items,
    "_count": count,
    "_len": length,
    "_lower": lower,
    "_min": minimum,
    "_max": maximum,
    "_abs": absolute,
    "_hours_since": hours_since,
    "_exists": exists,
    "_ts": parse_ts,
    "_distance": distance_from,
    "_geo": geo_point,
    "_skill_fit": skill_fit,
    "_streak": streak,
    "_rx": regex_search,
    "_has": has,
    "_has_any": has_any,
    "_has_all": has_all,
    "_sum": sum,
    "_Candidate": Candidate,
}
