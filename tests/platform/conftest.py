"""Fixtures for the platform: a fresh database per test on SQLite AND PostgreSQL, an app
with an admin token, and a real server process for the concurrency tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from gongdan.app import create_app
from gongdan.demo import REPAIR_FIELDS, REPAIR_STATES
from gongdan.domain.users.services import create_token, ensure_user
from gongdan.settings import Settings
from gongdan.store.engine import Database

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/"
ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def database_url(engine: str, tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database of `engine`, dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path}/gongdan.db"
        return
    name = f"gongdan_test_{secrets.token_hex(6)}"
    asyncio.run(_pg(f"CREATE DATABASE {name}"))
    try:
        yield PG_BASE + name
    finally:
        asyncio.run(_pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    with database_url(request.param, tmp_path) as url:
        yield url


class Api:
    """An API client bound to a role; `as_(role)` gives a client with another user's token."""

    def __init__(self, client: AsyncTestClient[Any], token: str) -> None:
        self.client = client
        self.token = token

    def _h(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.client.get(url, headers=self._h(kw.pop("headers", None)), **kw)

    async def post(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.post(url, json=json, headers=self._h(kw.pop("headers", None)),
                                      **kw)

    async def put(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.put(url, json=json, headers=self._h(kw.pop("headers", None)),
                                     **kw)

    async def patch(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.patch(url, json=json, headers=self._h(kw.pop("headers", None)),
                                       **kw)

    async def as_(self, name: str, role: str, profile: dict[str, Any] | None = None) -> Api:
        """A client for user `name` (created through the API with `role`)."""
        r = await self.post("/api/users", {"name": name, "role": role, "profile": profile})
        assert r.status_code == 201, r.text
        r = await self.post(f"/api/users/{name}/tokens")
        assert r.status_code == 201, r.text
        return Api(self.client, r.json()["token"])


async def prepare_database(settings: Settings) -> str:
    """Migrate the database of `settings` and make the admin and its token, before the app
    starts and without a pool (the app's lifespan, and so its PostgreSQL pool, runs in the
    test client's own event loop). Returns the admin's token."""
    db = Database(settings)
    await db.open(migrate=True, pool=False)
    await ensure_user("admin", "admin")
    token = await create_token("admin")
    await db.close()
    return token


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    """The app on a fresh database (lifespan run, migrations applied) and an admin client."""
    settings = Settings(database_url=db_url, token_cache_seconds=0)
    # The admin and its token are made before the app starts, without a pool: the app's
    # lifespan (and so its PostgreSQL pool) runs in the test client's own event loop.
    token = await prepare_database(settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield Api(client, token)


async def make_repair_line(api: Api, key: str = "repair", prefix: str = "WX") -> None:
    """The demo repair line's form and states (no rules)."""
    import msgspec

    r = await api.post("/api/lines", {"key": key, "name": "设备维修", "prefix": prefix})
    assert r.status_code == 201, r.text
    r = await api.put(f"/api/lines/{key}/form",
                      {"fields": [msgspec.to_builtins(f) for f in REPAIR_FIELDS]})
    assert r.status_code == 200, r.text
    r = await api.put(f"/api/lines/{key}/states", msgspec.to_builtins(REPAIR_STATES))
    assert r.status_code == 200, r.text


# --- a real server process -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gongdan(*args: str) -> list[str]:
    return [sys.executable, "-c", "from gongdan.cli import main; main()", *args]


class LiveServer:
    """`gongdan serve` in a subprocess, with the demo line loaded and an admin token."""

    def __init__(self, url: str, token: str, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.token = token
        self.proc = proc

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path | None = None,
                 timeout: float = 60.0, pause: float = 0.2) -> None:
    """Wait until `url`/health answers 200; fail, with the tail of the server's `log`, when
    the process exits first or nothing answers within `timeout` seconds."""

    def said() -> str:
        return log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {said()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {said()}")
        time.sleep(pause)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it when it does not end within 20 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def live_server(db_url: str, workers: int = 2, log: Path | None = None) -> Iterator[LiveServer]:
    """Start `gongdan serve` on a free port and wait until /health answers."""
    env = {**os.environ, "GONGDAN_DATABASE_URL": db_url, "GONGDAN_LOG_LEVEL": "warning"}
    out = subprocess.run(_gongdan("demo", "load", "--no-tickets"), env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    token = out.stdout.strip().rsplit(" ", 1)[-1]
    port = free_port()
    logfile = open(log or os.devnull, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        _gongdan("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        env=env, stdout=logfile, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, log)
        yield LiveServer(url, token, proc)
    finally:
        stop(proc)
        logfile.close()
