"""Indexes that make a tick cost in proportion to what is due: (state, due_at) for timers,
(state, next_attempt_at) for the outbox, (ticket_id, state) for re-arming a ticket."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-25T06:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "timer and outbox indexes"

INDEXES = {
    "gd_timer_state_due": "gd_timer (state, due_at)",
    "gd_timer_ticket_state": "gd_timer (ticket_id, state)",
    "gd_outbox_state_next": "gd_outbox (state, next_attempt_at)",
}


async def _create() -> None:
    engine = engine_finder()
    for name, on in INDEXES.items():
        await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")


async def _drop() -> None:
    engine = engine_finder()
    for name in INDEXES:
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="gongdan", description=DESCRIPTION)
    manager.add_raw(_create)
    manager.add_raw_backwards(_drop)
    return manager
