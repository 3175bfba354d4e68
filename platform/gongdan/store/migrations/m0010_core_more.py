"""gd_ticket.idempotency_hash: the hash of the request an `Idempotency-Key` was first used
with (line and body), so a reuse with another request is refused instead of silently
answered with the first ticket."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "gd_ticket.idempotency_hash"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="gongdan", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="GdTicket",
        tablename="gd_ticket",
        column_name="idempotency_hash",
        db_column_name="idempotency_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
