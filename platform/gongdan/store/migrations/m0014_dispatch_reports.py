"""Dispatch: gd_engineer.reroute_location and .reroute_at (where and when an app location
update last routed the waiting queues, so those re-routes are throttled)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON, Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "gd_engineer.reroute_location and .reroute_at"


def _params(default: object, null: bool) -> dict[str, object]:
    return {
        "default": default,
        "null": null,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="gongdan", description=DESCRIPTION)
    manager.add_column(
        table_class_name="GdEngineer", tablename="gd_engineer", column_name="reroute_location",
        db_column_name="reroute_location", column_class_name="JSON", column_class=JSON,
        params=_params(None, True), schema=None)
    manager.add_column(
        table_class_name="GdEngineer", tablename="gd_engineer", column_name="reroute_at",
        db_column_name="reroute_at", column_class_name="Timestamptz", column_class=Timestamptz,
        params=_params(None, True), schema=None)
    return manager
