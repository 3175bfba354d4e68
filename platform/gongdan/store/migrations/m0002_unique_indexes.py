"""Unique indexes over two columns, which Piccolo's column options cannot express."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-25T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (ticket, seq), (line, form version), (line, ruleset version)"

UNIQUE_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS gd_event_ticket_seq ON gd_event (ticket_id, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS gd_form_line_version ON gd_form (line_key, version)",
    "CREATE UNIQUE INDEX IF NOT EXISTS gd_ruleset_line_version ON gd_ruleset (line_key, version)",
]


async def _create() -> None:
    engine = engine_finder()
    for ddl in UNIQUE_INDEXES:
        await engine.run_ddl(ddl)


async def _drop() -> None:
    engine = engine_finder()
    for name in ("gd_event_ticket_seq", "gd_form_line_version", "gd_ruleset_line_version"):
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="gongdan", description=DESCRIPTION)
    manager.add_raw(_create)
    manager.add_raw_backwards(_drop)
    return manager
