"""gd_engineer.rev: the roster revision of each engineer's last change, so every server
process keeps its routing index up to date by reading only the rows that changed; and the
composite indexes of gd_offer."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder

ID = "2026-11-25T06:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "gd_engineer.rev (roster revision) and its index"


INDEXES = [
    "CREATE INDEX IF NOT EXISTS gd_offer_ticket_state ON gd_offer (ticket_id, state)",
    "CREATE INDEX IF NOT EXISTS gd_offer_engineer_state ON gd_offer (engineer, state)",
]


async def _indexes() -> None:
    engine = engine_finder()
    for ddl in INDEXES:
        await engine.run_ddl(ddl)


async def _drop_indexes() -> None:
    engine = engine_finder()
    for name in ("gd_offer_ticket_state", "gd_offer_engineer_state"):
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="gongdan", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="GdEngineer",
        tablename="gd_engineer",
        column_name="rev",
        db_column_name="rev",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_raw(_indexes)
    manager.add_raw_backwards(_drop_indexes)
    return manager
