"""The migrations describe exactly the tables in `gongdan/store/tables.py` (no drift)."""

from __future__ import annotations

import os

from piccolo.apps.migrations.commands.new import AutoMigrationManager

from gongdan.store import piccolo_app


async def test_no_table_change_without_a_migration(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(os.environ, "PICCOLO_CONF", "gongdan.store.piccolo_conf")
    statements = await AutoMigrationManager(auto_input="y").get_alter_statements(
        app_config=piccolo_app.APP_CONFIG
    )
    pending = [s for group in statements for s in group.statements]
    assert pending == [], (
        "tables.py changed without a migration; run the command in docs/running.md:\n"
        + "\n".join(pending)
    )
