"""Sign-in with a user name and password: hashes, POST /api/login, password changes, the
one 401, the rate limit and token expiry; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from litestar.testing import AsyncTestClient

from gongdan.app import create_app
from gongdan.domain.users import services
from gongdan.settings import Settings
from gongdan.store.engine import Database
from tests.platform.conftest import Api


def test_password_hash_is_salted_and_verified() -> None:
    a, b = services.hash_password("s3cret-pass"), services.hash_password("s3cret-pass")
    assert a != b and a.startswith("scrypt$") and "s3cret" not in a
    assert services.verify_password("s3cret-pass", a)
    assert not services.verify_password("s3cret-pasS", a)
    assert not services.verify_password("s3cret-pass", "")
    assert not services.verify_password("s3cret-pass", "md5$x$y")


async def test_login_gives_an_expiring_token(api: Api) -> None:
    services.LOGIN_LIMITER._failures.clear()
    r = await api.post("/api/users", {"name": "amy", "role": "dispatcher",
                                      "password": "correct horse"})
    assert r.status_code == 201, r.text
    assert r.json()["has_password"] is True
    assert not any("password" in key for key in r.json() if key != "has_password")
    listed = {u["name"]: u for u in (await api.get("/api/users")).json()}
    assert listed["amy"]["has_password"] is True and listed["admin"]["has_password"] is False
    assert not any("password_hash" in u for u in listed.values())

    r = await api.client.post("/api/login", json={"name": "amy", "password": "correct horse"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == "amy" and body["role"] == "dispatcher"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(hours=11) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=12)
    me = await api.client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["name"] == "amy"


async def test_login_tokens_expire(db_url: str) -> None:
    """With GONGDAN_LOGIN_TOKEN_HOURS below zero a login token is born expired."""
    services.LOGIN_LIMITER._failures.clear()
    settings = Settings(database_url=db_url, token_cache_seconds=0, login_token_hours=-0.01)
    db = Database(settings)
    await db.open(migrate=True, pool=False)
    await services.ensure_user("kim", "viewer")
    await services.set_password("kim", "kims-password")
    forever = await services.create_token("kim")
    await db.close()
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/api/login", json={"name": "kim", "password": "kims-password"})
        assert r.status_code == 200, r.text
        expired = {"Authorization": f"Bearer {r.json()['token']}"}
        assert (await client.get("/api/me", headers=expired)).status_code == 401
        kept = {"Authorization": f"Bearer {forever}"}
        assert (await client.get("/api/me", headers=kept)).status_code == 200


async def test_failed_logins_look_alike_and_are_limited(api: Api) -> None:
    services.LOGIN_LIMITER._failures.clear()
    await api.post("/api/users", {"name": "bob", "role": "agent", "password": "bob-password"})
    await api.post("/api/users", {"name": "nopw", "role": "agent"})
    wrong = await api.client.post("/api/login", json={"name": "bob", "password": "nope-nope"})
    missing = await api.client.post("/api/login", json={"name": "ghost", "password": "x"})
    no_password = await api.client.post("/api/login", json={"name": "nopw", "password": ""})
    for r in (wrong, missing, no_password):
        assert r.status_code == 401
        assert r.json()["message_zh"] == "用户名或密码错误"
        assert r.json()["message_en"] == "wrong user name or password"
    assert wrong.json() == missing.json() == no_password.json()

    services.LOGIN_LIMITER._failures.clear()
    for _ in range(5):
        r = await api.client.post("/api/login", json={"name": "bob", "password": "bad-guess"})
        assert r.status_code == 401
    r = await api.client.post("/api/login", json={"name": "bob", "password": "bob-password"})
    assert r.status_code == 429, r.text
    assert "登录失败次数过多" in r.json()["message_zh"] and r.json()["data"]["retry_after"] > 0
    # the address counts too, with 4 times the allowance (people behind one proxy share it)
    for i in range(15):  # 5 + 15 = 20 failures of this address
        r = await api.client.post("/api/login", json={"name": f"u{i}", "password": "x"})
        assert r.status_code == 401, (i, r.text)
    r = await api.client.post("/api/login", json={"name": "someone", "password": "y"})
    assert r.status_code == 429
    services.LOGIN_LIMITER._failures.clear()
    r = await api.client.post("/api/login", json={"name": "bob", "password": "bob-password"})
    assert r.status_code == 200


async def test_password_changes(api: Api) -> None:
    services.LOGIN_LIMITER._failures.clear()
    eve = await api.as_("eve", "engineer")
    # admins set anyone's password; the policy is checked, with a field entry
    r = await api.put("/api/users/eve/password", {"password": "short"})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "password"
    r = await api.put("/api/users/eve/password", {"password": "first-password"})
    assert r.status_code == 200, r.text
    assert (await api.put("/api/users/nobody/password", {"password": "whatever-1"})
            ).status_code == 404
    # users change their own with the old one
    r = await eve.put("/api/users/eve/password", {"password": "second-password"})
    assert r.status_code == 422 and r.json()["extra"][0]["key"] == "old_password"
    r = await eve.put("/api/users/eve/password", {"password": "second-password",
                                                  "old_password": "wrong-one"})
    assert r.status_code == 403 and r.json()["message_en"] == "the old password is wrong"
    session = await api.client.post("/api/login",
                                    json={"name": "eve", "password": "first-password"})
    assert session.status_code == 200
    signed_in = {"Authorization": f"Bearer {session.json()['token']}"}
    assert (await api.client.get("/api/me", headers=signed_in)).status_code == 200
    r = await eve.put("/api/users/eve/password", {"password": "second-password",
                                                  "old_password": "first-password"})
    assert r.status_code == 200, r.text
    # a new password signs out the password sessions; API tokens stay
    assert (await api.client.get("/api/me", headers=signed_in)).status_code == 401
    assert (await eve.get("/api/me")).status_code == 200
    # ...but nobody else's
    r = await eve.put("/api/users/admin/password", {"password": "taken-over",
                                                    "old_password": "second-password"})
    assert r.status_code == 403
    old = await api.client.post("/api/login", json={"name": "eve", "password": "first-password"})
    assert old.status_code == 401
    new = await api.client.post("/api/login",
                                json={"name": "eve", "password": "second-password"})
    assert new.status_code == 200 and new.json()["role"] == "engineer"
    # a bad password on create writes nothing
    r = await api.post("/api/users", {"name": "zed", "role": "agent", "password": "x"})
    assert r.status_code == 422
    assert "zed" not in {u["name"] for u in (await api.get("/api/users")).json()}


def test_cli_passwd_and_demo_password(db_url: str) -> None:
    def gongdan(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from gongdan.cli import main; main()",
                               *args], env={**os.environ,
                                            "GONGDAN_DATABASE_URL": db_url},
                              input=stdin, capture_output=True, text=True, timeout=120)

    demo = gongdan("demo", "load", "--no-tickets")
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.strip().splitlines()
    assert lines[-1].startswith("admin token: gd_")
    assert any("sign-in password:" in line for line in lines), demo.stdout
    again = gongdan("demo", "load", "--no-tickets")
    assert "gongdan user passwd admin" in again.stdout
    assert again.stdout.strip().rsplit(" ", 1)[-1].startswith("gd_")

    r = gongdan("user", "passwd", "admin", "--password-stdin", stdin="a-new-password\n")
    assert r.returncode == 0, r.stderr
    r = gongdan("user", "passwd", "admin", "--password-stdin", stdin="short\n")
    assert r.returncode != 0 and "密码长度" in r.stderr
    r = gongdan("user", "passwd", "nobody", "--password-stdin", stdin="long-enough-1\n")
    assert r.returncode != 0 and "user not found" in r.stderr


async def test_guesses_sent_at_once_cannot_pass_the_limit_together(api: Api) -> None:
    """Every attempt is counted before the password is checked: 30 wrong guesses sent at
    once against a limit of 5 give at most 5 checked answers (401), the rest 429; the
    right password afterwards is still refused until the window ends."""
    import asyncio

    services.LOGIN_LIMITER._failures.clear()
    r = await api.post("/api/users", {"name": "ann", "role": "viewer", "password": "right-password"})
    assert r.status_code == 201, r.text
    answers = await asyncio.gather(*(
        api.client.post("/api/login", json={"name": "ann", "password": f"guess-{i}"})
        for i in range(30)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(401) <= 5 and codes.count(429) >= 25, codes
    r = await api.client.post("/api/login", json={"name": "ann", "password": "right-password"})
    assert r.status_code == 429, r.text
    services.LOGIN_LIMITER._failures.clear()


def test_a_full_limiter_forgets_the_oldest_keys_not_every_lock_out() -> None:
    limiter = services.LoginLimiter()
    limiter.MAX_KEYS = 10
    target = ("user", "victim")
    for _ in range(5):
        limiter.attempt([(target, 5)], [target], 300)
    for i in range(50):  # an attacker fills the table with fresh addresses
        key = ("ip", f"10.0.0.{i}")
        limiter.attempt([(key, 20)], [key], 300)
    assert len(limiter._failures) <= 11  # the table stays bounded
    import pytest

    from gongdan.errors import ApiError
    with pytest.raises(ApiError):  # the victim is still locked out
        limiter.attempt([(target, 5)], [target], 300)
