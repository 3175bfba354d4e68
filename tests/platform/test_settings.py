"""Settings: read from GONGDAN_* variables; every one documented in docs/settings.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongdan.settings import Settings, describe
from gongdan.store.engine import make_engine, sqlite_path

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", [name for name, _, _ in describe()])
def test_every_setting_is_documented(name: str) -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert f"`{name}`" in text, f"{name} is not documented in docs/settings.md"


def test_every_setting_has_help() -> None:
    for name, _, help_text in describe():
        assert help_text and "/" in help_text, f"{name} needs zh / en help text"


def test_from_env() -> None:
    s = Settings.from_env({"GONGDAN_PORT": "9000", "GONGDAN_AUTO_MIGRATE": "no",
                           "GONGDAN_DATABASE_URL": "postgresql://u@h:5432/d", "OTHER": "x"})
    assert s.port == 9000 and s.auto_migrate is False and s.is_postgres
    assert Settings.from_env({}).database_url == "sqlite:///./gongdan.db"
    assert Settings.from_env({}, port=1).port == 1
    with pytest.raises(ValueError, match="GONGDAN_WORKERS"):
        Settings.from_env({"GONGDAN_WORKERS": "two"})
    with pytest.raises(ValueError, match="GONGDAN_DEBUG"):
        Settings.from_env({"GONGDAN_DEBUG": "perhaps"})
    assert Settings.from_env(Settings(port=1234).as_env()).port == 1234


@pytest.mark.postgres
def test_database_urls() -> None:
    assert sqlite_path("sqlite:///./gongdan.db") == "./gongdan.db"
    assert sqlite_path("sqlite:////var/lib/gongdan.db") == "/var/lib/gongdan.db"
    with pytest.raises(ValueError, match="unsupported"):
        make_engine(Settings(database_url="mysql://x"))
    pg = make_engine(Settings(database_url="postgresql://postgres@127.0.0.1:5432/test"))
    assert pg.engine_type == "postgres"


def test_bad_timezone_fails_at_start() -> None:
    from zoneinfo import ZoneInfoNotFoundError

    from gongdan.app import create_app

    with pytest.raises(ZoneInfoNotFoundError):
        create_app(Settings(timezone="Asia/Shanghia"))
