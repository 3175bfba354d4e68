"""Piccolo's configuration module (`PICCOLO_CONF=gongdan.store.piccolo_conf`).

`DB` is set by `gongdan.store.engine.bind()` to the engine of the current database, so
Piccolo's migration machinery and our tables always use the same one.
"""

from __future__ import annotations

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.sqlite import SQLiteEngine

# Only used by `piccolo migrations new gongdan --auto` when developing; at run time
# `bind()` replaces it.
DB = SQLiteEngine(path=os.environ.get("GONGDAN_PICCOLO_DEV_DB", "piccolo-dev.db"))

APP_REGISTRY = AppRegistry(apps=["gongdan.store.piccolo_app"])
