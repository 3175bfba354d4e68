"""The database engine: chosen from the URL, bound to our tables, migrated, pooled.

One process talks to one database at a time: `bind()` points every table (ours and
Piccolo's migration table) at the engine. The PostgreSQL pool is tied to the event loop
that creates it, so `open_database()` runs inside the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote, urlparse

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory

from gongdan.settings import Settings
from gongdan.store import piccolo_conf
from gongdan.store.tables import ALL_TABLES

PICCOLO_CONF = "gongdan.store.piccolo_conf"
_MIGRATION_LOCK_ID = 7_262_001  # pg_advisory_lock key: one migrator at a time


class _Pooled:
    """An aiosqlite connection whose `close()` hands it back to the engine's pool."""

    __slots__ = ("_conn", "_engine")

    def __init__(self, conn: Any, engine: GongdanSQLiteEngine) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_engine", engine)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)

    async def close(self) -> None:
        await self._engine._release(self._conn)


class GongdanSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with pooled connections.

    Piccolo opens a new aiosqlite connection (a new thread) for every query and every
    transaction and re-sends `PRAGMA foreign_keys` before each statement; that cost most
    of a request's CPU. Here connections are opened once per event loop, set up once
    (`foreign_keys`, `synchronous = NORMAL`, which is safe under WAL) and reused."""

    max_idle = 8

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: dict[int, list[Any]] = {}

    async def _acquire(self) -> Any:
        import aiosqlite

        idle = self._idle.setdefault(id(asyncio.get_running_loop()), [])
        if idle:
            return idle.pop()
        conn = await aiosqlite.connect(**self.connection_kwargs)
        conn.row_factory = dict_factory
        await conn.execute("PRAGMA foreign_keys = 1")
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def _release(self, conn: Any) -> None:
        idle = self._idle.setdefault(id(asyncio.get_running_loop()), [])
        try:
            if conn.in_transaction:  # never hand on a connection with an open transaction
                await conn.execute("ROLLBACK")
        except Exception:
            await conn.close()  # a broken connection is dropped, not pooled
            raise
        if len(idle) < self.max_idle:
            idle.append(conn)
        else:
            await conn.close()

    async def close_pool(self) -> None:
        """Close every pooled connection (their threads would keep the process alive)."""
        for idle in self._idle.values():
            while idle:
                await idle.pop().close()

    async def get_connection(self) -> Any:
        return _Pooled(await self._acquire(), self)

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        conn = await self._acquire()
        try:
            async with conn.execute(query, args or []) as cursor:
                return await cursor.fetchall()
        finally:
            await self._release(conn)

    async def _run_in_existing_connection(
        self, connection: Any, query: str, args: list[Any] | None = None,
        query_type: str = "generic", table: Any = None,
    ) -> Any:
        connection.row_factory = dict_factory
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()


def sqlite_path(url: str) -> str:
    """`sqlite:///./x.db` -> `./x.db`; `sqlite:////abs/x.db` -> `/abs/x.db`."""
    rest = url[len("sqlite://") :]
    if not rest.startswith("/"):
        raise ValueError(f"bad SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db")
    return unquote(rest[1:])


def make_engine(settings: Settings) -> Engine:
    """The Piccolo engine for `settings.database_url`."""
    url = settings.database_url
    if url.startswith("sqlite://"):
        return GongdanSQLiteEngine(path=sqlite_path(url), timeout=settings.sqlite_timeout)
    if settings.is_postgres:
        parsed = urlparse(url)
        return PostgresEngine(
            config={"dsn": url, "database": (parsed.path or "/").lstrip("/") or "postgres"},
            extensions=(),
        )
    raise ValueError(
        f"不支持的数据库地址 / unsupported database URL {url!r}: "
        "use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )


def bind(engine: Engine) -> None:
    """Point our tables and Piccolo's migration machinery at `engine`."""
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    piccolo_conf.DB = engine  # type: ignore[assignment]
    for table in [*ALL_TABLES, Migration]:
        table._meta.db = engine


def _give_back(db: Database, fd: int) -> Any:
    """A done-callback for a lock wait nobody awaits any more: release what it got, unless
    the database was closed meanwhile (the descriptor may be closed, or reused by another
    file whose lock this must not touch)."""

    def done(f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None or db._lock_fd != fd:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)

    return done


class Database:
    """The bound engine plus the transaction style each engine needs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.is_sqlite = isinstance(self.engine, SQLiteEngine)
        self._write_lock: asyncio.Lock | None = None
        self._lock_fd: int | None = None

    async def open(self, *, migrate: bool, pool: bool = True) -> None:
        """Bind, set SQLite to WAL, run migrations if asked, start the PostgreSQL pool
        (unless `pool` is false: then every query opens its own connection)."""
        bind(self.engine)
        if self.is_sqlite:
            path = sqlite_path(self.settings.database_url)
            if os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            await self.engine.run_ddl("PRAGMA journal_mode = WAL")
        if migrate:
            await self.migrate()
        if pool and isinstance(self.engine, PostgresEngine):
            await self.engine.start_connection_pool(
                min_size=self.settings.pg_pool_min, max_size=self.settings.pg_pool_max
            )

    async def close(self) -> None:
        """Close the PostgreSQL pool or the SQLite connections."""
        if isinstance(self.engine, PostgresEngine) and self.engine.pool is not None:
            await self.engine.close_connection_pool()
        if isinstance(self.engine, GongdanSQLiteEngine):
            await self.engine.close_pool()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def migrate(self) -> str:
        """Run every pending migration, holding a lock so concurrent starters take turns."""
        bind(self.engine)
        out = io.StringIO()
        async with self._migration_lock():
            with contextlib.redirect_stdout(out):
                result = await run_forwards(app_name="gongdan")
        if not result.success:
            raise RuntimeError(f"migration failed: {result.message}\n{out.getvalue()}")
        return out.getvalue()

    @contextlib.asynccontextmanager
    async def _migration_lock(self) -> AsyncIterator[None]:
        if isinstance(self.engine, PostgresEngine):
            conn = await self.engine.get_new_connection()
            try:
                await conn.execute(f"SELECT pg_advisory_lock({_MIGRATION_LOCK_ID})")
                yield
            finally:
                await conn.close()  # closing the session releases the lock
        else:
            path = sqlite_path(self.settings.database_url) + ".migrate-lock"
            with open(path, "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.asynccontextmanager
    async def _process_write_lock(self) -> AsyncIterator[None]:
        """Between processes (`--workers 2`), SQLite writers take turns on an advisory
        file lock before BEGIN IMMEDIATE. One writer per process waits for it, blocked in
        the kernel in a thread, so a release wakes the other process's writer at once;
        waiting in SQLite's busy handler instead sleeps 1, 2, 5 ... 100 ms between tries
        and lets the process that just committed win again, which made p99 latency with
        two workers about a second. The lock only orders writers: SQLite still guards the
        data (a writer that waited `GONGDAN_SQLITE_TIMEOUT` in vain goes on to BEGIN
        IMMEDIATE and its busy timeout; programs that do not take the lock are handled by
        that too)."""
        if self._lock_fd is None:
            path = sqlite_path(self.settings.database_url) + ".write-lock"
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fd = self._lock_fd
        held = False
        if self.settings.workers <= 1:  # with one worker the lock is nearly always free
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                pass
        # With several workers every writer waits in the thread, even for a free lock: the
        # few microseconds that takes let a writer of another process, already woken by
        # the release, go first, so the processes take turns instead of one starving.
        if not held:
            waiting = asyncio.get_running_loop().run_in_executor(
                None, fcntl.flock, fd, fcntl.LOCK_EX)
            try:
                await asyncio.wait_for(asyncio.shield(waiting), self.settings.sqlite_timeout)
                held = True
            except TimeoutError:
                waiting.add_done_callback(_give_back(self, fd))
            except asyncio.CancelledError:
                waiting.add_done_callback(_give_back(self, fd))
                raise
        try:
            yield
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Any]:
        """A transaction; on SQLite a writer takes the write lock at BEGIN (IMMEDIATE), so
        read-modify-write sequences never fail half-way with 'database is locked'.

        SQLite has one writer at a time anyway, so writers in this process queue on an
        asyncio lock first: they wait their turn without spinning in SQLite's busy handler
        (which sleeps in growing steps and made p99 latency seconds long)."""
        if isinstance(self.engine, SQLiteEngine):
            if not write:
                async with self.engine.transaction(
                    transaction_type=TransactionType.deferred
                ) as tx:
                    yield tx
                return
            if self.engine.current_transaction.get() is not None:
                # nested: Piccolo joins the outer transaction, which holds the lock already
                async with self.engine.transaction() as tx:
                    yield tx
                return
            if self._write_lock is None:
                self._write_lock = asyncio.Lock()
            async with self._write_lock, self._process_write_lock(), self.engine.transaction(
                transaction_type=TransactionType.immediate
            ) as tx:
                yield tx
            return
        async with self.engine.transaction() as tx:
            yield tx
