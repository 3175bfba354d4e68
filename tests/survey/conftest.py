"""The time engine's fixtures: the app with its background loops off (tests tick the
scheduler) on SQLite and PostgreSQL, and the clock reset after each test."""

from tests.time.conftest import _reset_clock, db_url, tapi

__all__ = ["_reset_clock", "db_url", "tapi"]
