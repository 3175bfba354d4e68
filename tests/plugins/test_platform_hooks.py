"""The platform calls the plugins: event hooks after commit (through the real API), plugin
event types' schemas enforced, and a broken plugin stops `gongdan serve` at start-up."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from gongdan import plugins
from gongdan.app import create_app
from gongdan.demo import REPAIR_FIELDS, demo_ticket
from gongdan.hookspecs import APPROVAL_EVENT_TYPES, EventType
from gongdan.plugins import hookimpl, make_plugin_manager
from gongdan.settings import Settings
from tests.platform.conftest import Api, db_url, free_port, prepare_database

__all__ = ["db_url"]

RULES = """ruleset "审批" for line appr
on started: 待审批 -> 执行中
on done: 执行中 -> 已完成
"""
STATES = {"initial": "待审批", "states": [
    {"key": "待审批", "category": "open"}, {"key": "执行中", "category": "open"},
    {"key": "已完成", "category": "closed"}],
    "transitions": [["待审批", "执行中"], ["执行中", "已完成"], ["执行中", "待审批"]]}


def committed_state(url: str, ticket_id: int) -> str | None:
    """The ticket's state as ANOTHER connection sees it: only what is committed."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            row = conn.execute("SELECT state FROM gd_ticket WHERE id = ?", (ticket_id,)).fetchone()
        finally:
            conn.close()
        return row[0] if row else None
    found: list[str | None] = []

    async def read() -> None:
        conn = await asyncpg.connect(url)
        try:
            found.append(await conn.fetchval("SELECT state FROM gd_ticket WHERE id = $1",
                                             ticket_id))
        finally:
            await conn.close()

    worker = threading.Thread(target=lambda: asyncio.run(read()))
    worker.start()
    worker.join()
    return found[0]


class Recorder:
    """A plugin recording each event hook call, with the ticket's committed state."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.calls: list[tuple[Any, ...]] = []

    @hookimpl
    def ticket_created(self, ticket: Any, event: Any) -> None:
        self.calls.append(("created", ticket["number"], event["type"],
                           committed_state(self.url, ticket["id"])))

    @hookimpl
    def ticket_transitioned(self, ticket: Any, event: Any, from_state: str,
                            to_state: str) -> None:
        self.calls.append(("transitioned", from_state, to_state, event["channel"],
                           committed_state(self.url, ticket["id"])))

    @hookimpl
    def ticket_closed(self, ticket: Any, event: Any) -> None:
        self.calls.append(("closed", ticket["state"], committed_state(self.url, ticket["id"])))


class Broken:
    @hookimpl
    def ticket_created(self, ticket: Any) -> None:
        raise RuntimeError("this plugin is broken")

    @hookimpl
    def ticket_transitioned(self, to_state: str) -> None:
        raise RuntimeError("this plugin is broken")


@hookimpl
def register_event_types() -> list[EventType]:
    return [*APPROVAL_EVENT_TYPES, EventType(name="done", title="完成 / done", schema={
        "type": "object", "required": ["hours"], "additionalProperties": False,
        "properties": {"hours": {"type": "number", "minimum": 0}, "note": {"type": "string"}}})]


async def start(db_url: str, pm: Any) -> tuple[Any, str]:
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False)
    token = await prepare_database(settings)
    return create_app(settings, plugin_manager=pm), token


async def setup_line(api: Api) -> None:
    assert (await api.post("/api/lines", {"key": "appr", "name": "审批", "prefix": "SP"})
            ).status_code == 201
    r = await api.put("/api/lines/appr/form",
                      {"fields": [msgspec.to_builtins(f) for f in REPAIR_FIELDS]})
    assert r.status_code == 200, r.text
    assert (await api.put("/api/lines/appr/states", STATES)).status_code == 200
    r = await api.put("/api/lines/appr/rules", {"source": RULES})
    assert r.status_code == 201, r.text
    r = await api.post(f"/api/lines/appr/rules/{r.json()['version']}/activate")
    assert r.status_code in (200, 201), r.text


@pytest.fixture
async def hooked(db_url: str) -> AsyncIterator[tuple[Api, Recorder]]:
    recorder = Recorder(db_url)
    pm = make_plugin_manager(load_entrypoints=False, plugins=[
        ("broken", Broken()), ("recorder", recorder),
        ("events", types.SimpleNamespace(register_event_types=register_event_types))])
    app, token = await start(db_url, pm)
    try:
        async with AsyncTestClient(app=app) as client:
            api = Api(client, token)
            await setup_line(api)
            yield api, recorder
    finally:
        plugins.set_plugin_manager(None)


async def test_event_hooks_fire_after_commit_through_the_api(
    hooked: tuple[Api, Recorder], caplog: pytest.LogCaptureFixture,
) -> None:
    api, recorder = hooked
    r = await api.post("/api/lines/appr/tickets", demo_ticket(1))
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert recorder.calls == [("created", ticket["number"], "created", "待审批")]
    # the broken plugin failed on its own: logged with its name, the request unharmed
    assert any("plugin broken failed in ticket_created" in rec.getMessage()
               and rec.levelno == logging.ERROR for rec in caplog.records)

    r = await api.post(f"/api/tickets/{ticket['id']}/events", {"type": "started"})
    assert r.status_code == 200 and r.json()["transition"], r.text
    assert recorder.calls[-1] == ("transitioned", "待审批", "执行中", "rule", "执行中")

    r = await api.post(f"/api/tickets/{ticket['id']}/move",
                       {"to": "待审批", "version": r.json()["ticket"]["version"]})
    assert r.status_code == 200, r.text
    assert recorder.calls[-1] == ("transitioned", "执行中", "待审批", "app", "待审批")
    r = await api.post(f"/api/tickets/{ticket['id']}/events", {"type": "started"})
    r = await api.post(f"/api/tickets/{ticket['id']}/events", {"type": "done", "hours": 1.5})
    assert r.status_code == 200, r.text
    assert recorder.calls[-2:] == [("transitioned", "执行中", "已完成", "rule", "已完成"),
                                   ("closed", "已完成", "已完成")]

    # an event that records nothing new fires nothing
    before = len(recorder.calls)
    r = await api.post(f"/api/tickets/{ticket['id']}/events", {"type": "note", "text": "ok"})
    assert r.status_code == 200 and len(recorder.calls) == before


async def test_plugin_event_types_are_validated_against_their_schema(
    hooked: tuple[Api, Recorder],
) -> None:
    api, _ = hooked
    ticket = (await api.post("/api/lines/appr/tickets", demo_ticket(1))).json()
    r = await api.post(f"/api/tickets/{ticket['id']}/events",
                       {"type": "done", "hours": -2, "extra": 1})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["message_zh"] and body["message_en"]
    assert {e["key"] for e in body["extra"]} == {"hours", "extra"}
    r = await api.post(f"/api/tickets/{ticket['id']}/events", {"type": "done"})
    assert r.status_code == 422 and [e["key"] for e in r.json()["extra"]] == ["hours"]
    r = await api.post(f"/api/tickets/{ticket['id']}/events",
                       {"type": "approval_passed", "approval_id": 42})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "approval_id"
    # an approval result comes only through its signed callback, never as a posted event
    r = await api.post(f"/api/tickets/{ticket['id']}/events", {"type": "approval_passed"})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "type", r.text
    r = await api.post(f"/api/tickets/{ticket['id']}/events", {"type": "survey_answered",
                                                               "score": 5})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "type", r.text
    timeline = (await api.get(f"/api/tickets/{ticket['id']}/timeline")).json()["events"]
    assert [e["type"] for e in timeline] == ["created"]  # nothing half-written


BROKEN_PLUGIN = '''
from gongdan.plugins import hookimpl

@hookimpl
def register_conectors():
    return []
'''


def test_serve_refuses_to_start_with_a_misspelt_hook(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "broken_plugin.py").write_text(BROKEN_PLUGIN, encoding="utf-8")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text("[gongdan]\nbroken = broken_plugin\n",
                                           encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
           "GONGDAN_LOAD_PLUGINS": "broken",
           "GONGDAN_DATABASE_URL": f"sqlite:///{tmp_path}/gongdan.db"}
    proc = subprocess.run(
        [sys.executable, "-c", "from gongdan.cli import main; main()", "serve",
         "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "1"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "register_conectors" in proc.stderr and "plugins failed to load" in proc.stderr
    assert "gongdan serving" not in proc.stdout  # it never got as far as listening


def test_a_broken_plugin_set_fails_app_start_and_rules_checks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from gongdan import rules_runtime
    from gongdan.errors import ApiError

    monkeypatch.setenv("GONGDAN_LOAD_PLUGINS", "webhook,no_such_plugin")
    plugins.set_plugin_manager(None)
    try:
        with pytest.raises(plugins.PluginLoadError, match="no_such_plugin"):
            create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db"))
        with pytest.raises(ApiError) as info:
            rules_runtime.installed()  # no longer "unknown": the failure is reported
        assert info.value.status == 503 and "no_such_plugin" in info.value.message_en
    finally:
        plugins.set_plugin_manager(None)
