"""The Piccolo app: its tables and its migrations folder."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from gongdan.store.tables import ALL_TABLES

APP_CONFIG = AppConfig(
    app_name="gongdan",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=list(ALL_TABLES),
    migration_dependencies=[],
    commands=[],
)
