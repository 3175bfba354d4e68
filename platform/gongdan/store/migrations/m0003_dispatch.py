"""Dispatch: engineers, offers, routing decisions and the waiting queue.

The tables are declared here as they are at this migration (not imported from
`tables.py`), so a later change to the live classes cannot change what this migration did.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import JSON, Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-11-25T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dispatch: gd_engineer, gd_offer, gd_dispatch_decision, gd_dispatch_queue"


class GdEngineer(Table, tablename="gd_engineer"):
    id = Serial(primary_key=True)
    key = Varchar(length=100, unique=True)
    name = Varchar(length=200, default="")
    skills = JSON(default="{}")
    certifications = JSON(default="[]")
    team = Varchar(length=100, null=True, default=None, index=True)
    supervisor = Varchar(length=100, null=True, default=None)
    region = Varchar(length=6, null=True, default=None)
    location = JSON(null=True, default=None)
    location_at = Timestamptz(null=True, default=None)
    shifts = JSON(default="[]")
    on_shift = Boolean(default=False)
    max_load = Integer(default=5)
    load = Integer(default=0)
    idle_since = Timestamptz(null=True, default=None)
    recent = JSON(default="[]")
    phone = Varchar(length=20, default="")
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class GdOffer(Table, tablename="gd_offer"):
    id = Serial(primary_key=True)
    ticket_id = Integer(index=True)
    engineer = Varchar(length=100, index=True)
    round = Integer(default=1)
    state = Varchar(length=16, default="live")
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)


class GdDispatchDecision(Table, tablename="gd_dispatch_decision"):
    id = Serial(primary_key=True)
    ticket_id = Integer(index=True)
    at = Timestamptz()
    reason = Varchar(length=32)
    round = Integer(default=1)
    pool = Varchar(length=200, null=True, default=None)
    tier = Varchar(length=32, null=True, default=None)
    actor = Varchar(length=100, default="")
    decision = JSON(default="{}")


class GdDispatchQueue(Table, tablename="gd_dispatch_queue"):
    id = Serial(primary_key=True)
    ticket_id = Integer(unique=True)
    line_key = Varchar(length=64, index=True)
    tier = Varchar(length=32, null=True, default=None)
    deadline = Timestamptz(null=True, default=None)
    since = Timestamptz()
    escalated = Boolean(default=False)


TABLES: list[type[Table]] = [GdEngineer, GdOffer, GdDispatchDecision, GdDispatchQueue]
INDEXES = [
    "CREATE INDEX IF NOT EXISTS gd_offer_ticket_state ON gd_offer (ticket_id, state)",
    "CREATE INDEX IF NOT EXISTS gd_offer_engineer_state ON gd_offer (engineer, state)",
]


async def _create() -> None:
    engine = engine_finder()
    for table in TABLES:
        table._meta.db = engine
        await table.create_table(if_not_exists=True)
    for ddl in INDEXES:
        await engine.run_ddl(ddl)


async def _drop() -> None:
    engine = engine_finder()
    for table in reversed(TABLES):
        await engine.run_ddl(f"DROP TABLE IF EXISTS {table._meta.tablename}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="gongdan", description=DESCRIPTION)
    manager.add_raw(_create)
    manager.add_raw_backwards(_drop)
    return manager
