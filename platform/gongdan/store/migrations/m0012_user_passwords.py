"""gd_user.password_hash (sign-in with a user name and password) and gd_token.expires_at
(tokens issued by POST /api/login expire)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "user passwords and token expiry"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="gongdan", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="GdUser",
        tablename="gd_user",
        column_name="password_hash",
        db_column_name="password_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 300,
            "default": "",
            "null": False,
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

    manager.add_column(
        table_class_name="GdToken",
        tablename="gd_token",
        column_name="expires_at",
        db_column_name="expires_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
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
