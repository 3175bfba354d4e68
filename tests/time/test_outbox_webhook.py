"""The outbox worker delivering through the generic webhook connector (`plugins/gongdan_webhook`)
to a real HTTP server on 127.0.0.1 that checks each Standard Webhooks signature, on SQLite
and PostgreSQL: delivered, retried after a 503 with the same webhook-id, dead-lettered
after a 400, and sent when an admin retries the dead letter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gongdan.outbox import service
from gongdan.outbox.worker import OutboxWorker
from gongdan.plugins import ConnectorPool
from gongdan_webhook.connector import WebhookConnector
from gongdan_webhook.signing import decode_secret, new_secret, verify
from tests.plugins.conftest import LocalServer, Reply, Request
from tests.time.conftest import TimeApi

SECRET = new_secret()


async def test_webhook_delivery_retry_and_dead_letter(tapi: TimeApi) -> None:
    key = decode_secret(SECRET)
    seen: dict[str, int] = {}
    verdict = {"k:bad": 400}

    def provider(req: Request) -> Reply:
        assert req.method == "POST" and req.path == "/hook"
        msg_id = req.headers["webhook-id"]
        assert verify(key, msg_id, req.headers["webhook-timestamp"], req.body,
                      req.headers["webhook-signature"]), "bad signature"
        body = req.json()
        assert body["type"] == "gongdan.notification" and body["data"]["channel"] == "webhook"
        assert body["data"]["to"] == "ops" and "WX-7" in body["data"]["text"]
        seen[msg_id] = seen.get(msg_id, 0) + 1
        if msg_id == "k:retry" and seen[msg_id] == 1:
            return 503, {}, "busy"
        return verdict.get(msg_id, 200), {}, "{}"

    server = LocalServer(provider).start()
    pool = ConnectorPool({"webhook": WebhookConnector},
                         environ={"GONGDAN_WEBHOOK_URL": server.url + "/hook",
                                  "GONGDAN_WEBHOOK_SECRET": SECRET})
    try:
        worker = OutboxWorker(tapi.db, tapi.settings, pool)

        async def enqueue_all() -> None:
            async with tapi.db.transaction():
                for k in ("k:ok", "k:retry", "k:bad"):
                    await service.enqueue(key=k, channel="webhook", template="状态变化", to="ops",
                                          kind="notify",
                                          context={"ticket": {"number": "WX-7"},
                                                   "from_state": "a", "to_state": "b"})

        await tapi.run(enqueue_all)
        assert await tapi.run(worker.run_once) == 3

        async def states() -> dict[str, Any]:
            items = (await tapi.get("/api/outbox")).json()["items"]
            return {m["idempotency_key"]: m for m in items}

        got = await states()
        assert got["k:ok"]["state"] == "sent"
        assert got["k:retry"]["state"] == "pending" and got["k:retry"]["attempts"] == 1
        assert "503" in got["k:retry"]["last_error"]
        assert got["k:bad"]["state"] == "dead" and "permanent" in got["k:bad"]["last_error"]
        assert await tapi.run(worker.run_once) == 0  # the retry waits for its back-off

        from gongdan.timers import clock

        clock.advance(dt.timedelta(seconds=tapi.settings.outbox_backoff_base * 2))
        assert await tapi.run(worker.run_once) == 1
        got = await states()
        assert got["k:retry"]["state"] == "sent" and got["k:retry"]["attempts"] == 2
        assert seen == {"k:ok": 1, "k:retry": 2, "k:bad": 1}

        dead = (await tapi.get("/api/outbox", params={"state": "dead"})).json()["items"]
        assert [m["idempotency_key"] for m in dead] == ["k:bad"]
        verdict.clear()  # the receiver was fixed; the admin retries the dead letter
        r = await tapi.post(f"/api/outbox/{dead[0]['id']}/retry")
        assert r.status_code == 200, r.text
        assert await tapi.run(worker.run_once) == 1
        assert (await states())["k:bad"]["state"] == "sent"
        assert seen["k:bad"] == 2
    finally:
        pool.close()
        server.stop()
    assert server.errors == []
