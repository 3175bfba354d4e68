"""Chinese 6-digit administrative division codes (GB/T 2260), from the shipped list."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def region_codes() -> dict[str, str]:
    """code -> name, for every code in `data/regions.tsv`."""
    text = resources.files("gongdan").joinpath("data/regions.tsv").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, name = line.split("\t", 1)
        out[code] = name
    return out


def is_region_code(value: object) -> bool:
    """True for a real 6-digit code such as `310115` (上海市浦东新区)."""
    return isinstance(value, str) and len(value) == 6 and value in region_codes()


def region_name(code: str) -> str | None:
    """The name of a code, or None."""
    return region_codes().get(code)
