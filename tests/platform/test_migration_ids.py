"""Every Piccolo migration has its own ID: Piccolo records applied migrations by ID, so two
files with one ID (easy when two branches each add 'the next' migration) means one of them
silently never runs."""

from __future__ import annotations

import re
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[2] / "platform" / "gongdan" / "store" / "migrations"


def test_migration_ids_are_unique_and_in_file_order() -> None:
    ids = []
    for path in sorted(MIGRATIONS.glob("m*.py")):
        m = re.search(r'^ID = "([^"]+)"', path.read_text(encoding="utf-8"), re.M)
        assert m, f"{path.name} has no ID"
        ids.append((path.name, m.group(1)))
    values = [i for _, i in ids]
    assert len(set(values)) == len(values), ids
    assert values == sorted(values), f"file order and ID order differ: {ids}"
