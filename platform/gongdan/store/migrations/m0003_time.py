"""The time engine's tables: the outbox, durable timers and named business calendars.

The tables are frozen copies (a migration must not change when `tables.py` does); Piccolo
writes the DDL for each engine. The indexes make a tick cost in proportion to what is due:
(state, due_at) for timers, (state, next_attempt_at) for the outbox.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import JSON, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-11-25T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox, timers, calendars"

INDEXES = [
    "CREATE INDEX IF NOT EXISTS gd_timer_state_due ON gd_timer (state, due_at)",
    "CREATE INDEX IF NOT EXISTS gd_timer_ticket_state ON gd_timer (ticket_id, state)",
    "CREATE INDEX IF NOT EXISTS gd_outbox_state_next ON gd_outbox (state, next_attempt_at)",
]


def _tables() -> list[type[Table]]:
    class GdOutbox(Table, tablename="gd_outbox"):
        id = Serial(primary_key=True)
        ticket_id = Integer(null=True, default=None, index=True)
        kind = Varchar(length=64, default="")
        template = Varchar(length=100, default="")
        channel = Varchar(length=64)
        recipient = Varchar(length=200, default="")
        subject = Text(default="")
        text = Text(default="")
        markdown = Boolean(default=False)
        idempotency_key = Varchar(length=200, unique=True)
        state = Varchar(length=16, default="pending")
        attempts = Integer(default=0)
        next_attempt_at = Timestamptz()
        locked_until = Timestamptz(null=True, default=None)
        owner = Varchar(length=100, default="")
        last_error = Text(default="")
        created_at = Timestamptz()
        sent_at = Timestamptz(null=True, default=None)

    class GdTimer(Table, tablename="gd_timer"):
        id = Serial(primary_key=True)
        due_at = Timestamptz()
        kind = Varchar(length=32)
        ticket_id = Integer(null=True, default=None)
        payload = JSON(default="{}")
        state = Varchar(length=16, default="pending")
        created_at = Timestamptz()
        fired_at = Timestamptz(null=True, default=None)
        owner = Varchar(length=100, default="")

    class GdCalendar(Table, tablename="gd_calendar"):
        id = Serial(primary_key=True)
        name = Varchar(length=100, unique=True)
        data = JSON()
        updated_by = Varchar(length=100, default="")
        updated_at = Timestamptz()

    return [GdOutbox, GdTimer, GdCalendar]


async def _create() -> None:
    engine = engine_finder()
    for table in _tables():
        table._meta.db = engine
        await table.create_table(if_not_exists=True)
    for ddl in INDEXES:
        await engine.run_ddl(ddl)


async def _drop() -> None:
    engine = engine_finder()
    for name in ("gd_outbox", "gd_timer", "gd_calendar"):
        await engine.run_ddl(f"DROP TABLE IF EXISTS {name}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="gongdan", description=DESCRIPTION)
    manager.add_raw(_create)
    manager.add_raw_backwards(_drop)
    return manager
