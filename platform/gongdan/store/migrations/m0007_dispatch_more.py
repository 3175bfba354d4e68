"""Dispatch: gd_engineer.shift_state (what the shift schedule last applied, so a manual
on/off-shift holds until the next boundary) and the queue's order columns
gd_dispatch_queue.rank (the tier's place in the ruleset) and .bypass (`bypass queue` tiers
first)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean, Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "gd_engineer.shift_state; gd_dispatch_queue.rank and .bypass"


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
        table_class_name="GdEngineer", tablename="gd_engineer", column_name="shift_state",
        db_column_name="shift_state", column_class_name="Boolean", column_class=Boolean,
        params=_params(None, True), schema=None)
    manager.add_column(
        table_class_name="GdDispatchQueue", tablename="gd_dispatch_queue", column_name="rank",
        db_column_name="rank", column_class_name="Integer", column_class=Integer,
        params=_params(0, False), schema=None)
    manager.add_column(
        table_class_name="GdDispatchQueue", tablename="gd_dispatch_queue", column_name="bypass",
        db_column_name="bypass", column_class_name="Boolean", column_class=Boolean,
        params=_params(False, False), schema=None)
    return manager
