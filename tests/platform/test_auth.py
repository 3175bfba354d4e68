"""Access: tokens are stored hashed, every /api route has a role guard, and docs/roles.md
says exactly what `gongdan.auth.PERMISSIONS` does."""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
from pathlib import Path

import asyncpg
from litestar.routes import HTTPRoute

from gongdan.app import create_app
from gongdan.auth import ALL, PERMISSIONS
from gongdan.settings import Settings
from gongdan.store.engine import sqlite_path
from tests.platform.conftest import Api

ROOT = Path(__file__).resolve().parents[2]

# Routes under /api that answer without a role check, and why. Nothing else may.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/api/me"): "any valid token: tells the caller who they are and what they may do",
    ("POST", "/api/login"): "no token yet: a user name and password buy one (rate limited)",
    ("PUT", "/api/users/{name:str}/password"): "admins, or the user themselves with the old "
                                               "password: checked in the handler",
    ("GET", "/api/callbacks/{source:str}"): "a provider's URL check: its signature authenticates it",
    ("POST", "/api/callbacks/{source:str}"): "a provider's callback: its signature authenticates it",
}


async def test_tokens_are_stored_hashed(api: Api, db_url: str) -> None:
    r = await api.post("/api/users", {"name": "hashy", "role": "viewer"})
    assert r.status_code == 201, r.text
    r = await api.post("/api/users/hashy/tokens")
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert (await api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            ).status_code == 200
    tokens = await _rows(db_url, "SELECT t.* FROM gd_token t JOIN gd_user u ON u.id = t.user_id "
                                 "WHERE u.name = 'hashy'")
    assert len(tokens) == 1
    stored = " ".join(str(v) for row in tokens for v in row.values())
    assert token not in stored
    assert token[len("gd_"):] not in stored  # not even without its prefix
    assert tokens[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    users = " ".join(str(v) for row in await _rows(db_url, "SELECT * FROM gd_user")
                     for v in row.values())
    assert token not in users  # nor anywhere else


async def _rows(db_url: str, sql: str) -> list[dict[str, object]]:
    """Read the table behind the app's back, as someone with a copy of the database would."""
    if db_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(sqlite_path(db_url))) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql).fetchall()]
    conn = await asyncpg.connect(db_url)
    try:
        return [dict(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def _api_handlers() -> list[tuple[str, str, object]]:
    app = create_app(Settings(database_url="sqlite:///./never-opened.db"))
    out = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api"):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                # OPTIONS: Litestar's own CORS pre-flight answer, which runs no handler code
                out.append((method, route.path, handler))
    return out


def test_every_api_route_has_a_role_guard() -> None:
    handlers = _api_handlers()
    assert len(handlers) > 40  # the walk found the app's routes
    unguarded = []
    for method, path, handler in handlers:
        guards = [g for layer in handler.ownership_layers
                  for g in (getattr(layer, "guards", None) or [])]
        if not any(getattr(g, "__name__", "").startswith("allowed_") for g in guards):
            unguarded.append((method, path))
    assert sorted(set(unguarded)) == sorted(PUBLIC), (
        "routes without a role guard (add `guards=[allowed(...)]`, or list the route in "
        f"PUBLIC with the reason): {sorted(set(unguarded) - set(PUBLIC))}")


def _documented_permissions() -> dict[str, tuple[str, ...]]:
    text = (ROOT / "docs" / "roles.md").read_text("utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| 操作 / action"))
    roles = [c.strip() for c in header.strip("|").split("|")[1:]]
    assert tuple(roles) == ALL, roles
    out: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        m = re.match(r"^\|[^|]*\(`([a-z]+\.[a-z]+)`\)\s*\|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        assert len(cells) == len(roles), line
        assert m.group(1) not in out, f"{m.group(1)} is listed twice"
        out[m.group(1)] = tuple(role for role, cell in zip(roles, cells, strict=True) if cell)
    return out


def test_roles_doc_matches_permissions() -> None:
    documented = _documented_permissions()
    assert sorted(documented) == sorted(PERMISSIONS), (
        f"missing from docs/roles.md: {sorted(set(PERMISSIONS) - set(documented))}; "
        f"not in PERMISSIONS: {sorted(set(documented) - set(PERMISSIONS))}")
    for action, roles in PERMISSIONS.items():
        assert set(documented[action]) == set(roles), (action, documented[action], roles)
