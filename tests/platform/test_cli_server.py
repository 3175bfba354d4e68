"""`gongdan db upgrade` and `gongdan token create`, as real subprocesses, on both engines."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gongdan.cli_server import serve


def gongdan(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GONGDAN_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-c", "from gongdan.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_db_upgrade_is_idempotent_and_tokens_are_made(db_url: str) -> None:
    first = gongdan(db_url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    second = gongdan(db_url, "db", "upgrade")
    assert second.returncode == 0 and "No migrations need to be run" in second.stdout
    made = gongdan(db_url, "token", "create", "--user", "ops", "--role", "dispatcher")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith("gd_") and len(made.stdout.strip()) > 40
    revoked = gongdan(db_url, "token", "revoke", "--user", "ops")
    assert revoked.returncode == 0 and "revoked 1" in revoked.stdout
    bad = gongdan(db_url, "token", "create", "--user", "x", "--role", "king")
    assert bad.returncode != 0
    assert "角色" in bad.stderr and "unknown role" in bad.stderr


@pytest.mark.parametrize("option", ["--host", "--port", "--workers"])
def test_serve_options(option: str) -> None:
    assert option in {opt for p in serve.params for opt in p.opts}
