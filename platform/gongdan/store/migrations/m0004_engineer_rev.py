"""gd_engineer.rev: the roster revision of each engineer's last change, so every server
process can keep its routing index up to date by reading only the rows that changed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-25T06:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "gd_engineer.rev (roster revision) and its index"


async def _create() -> None:
    engine = engine_finder()
    await engine.run_ddl("ALTER TABLE gd_engineer ADD COLUMN rev INTEGER NOT NULL DEFAULT 0")
    await engine.run_ddl("CREATE INDEX IF NOT EXISTS gd_engineer_rev ON gd_engineer (rev)")


async def _drop() -> None:
    engine = engine_finder()
    await engine.run_ddl("DROP INDEX IF EXISTS gd_engineer_rev")
    await engine.run_ddl("ALTER TABLE gd_engineer DROP COLUMN rev")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="gongdan", description=DESCRIPTION)
    manager.add_raw(_create)
    manager.add_raw_backwards(_drop)
    return manager
