"""docs/admin.md's screenshots (made by the browser tests with GONGDAN_UPDATE_SCREENSHOTS=1):
each one referenced exists and is small, and none lies there unused."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
IMG = DOCS / "img" / "admin"


def test_admin_md_screenshots_exist_are_small_and_used() -> None:
    text = (DOCS / "admin.md").read_text(encoding="utf-8")
    referenced = set(re.findall(r"img/admin/([\w.-]+\.png)", text))
    assert referenced, "docs/admin.md shows no screenshots"
    present = {p.name for p in IMG.glob("*.png")}
    assert referenced <= present, f"missing: {sorted(referenced - present)}"
    assert present <= referenced, f"not used in docs/admin.md: {sorted(present - referenced)}"
    for name in present:
        data = (IMG / name).read_bytes()
        assert data.startswith(b"\x89PNG"), name
        assert len(data) < 200 * 1024, f"{name} is {len(data) // 1024} KB"
