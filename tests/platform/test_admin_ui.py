"""`/admin` serves the admin UI build, with deep links falling back to index.html."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from gongdan.app import create_app
from gongdan.settings import Settings


def client(tmp_path: Path, ui: Path) -> TestClient:  # type: ignore[type-arg]
    settings = Settings.from_env({}, database_url=f"sqlite:///{tmp_path / 'ui.db'}", admin_ui_dir=str(ui))
    return TestClient(create_app(settings))


def test_serves_the_build_and_falls_back_for_deep_links(tmp_path: Path) -> None:
    ui = tmp_path / "dist"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><title>工单</title>", encoding="utf-8")
    (ui / "assets" / "app.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    with client(tmp_path, ui) as c:
        for path in ("/admin", "/admin/", "/admin/rules", "/admin/tickets/12"):
            r = c.get(path)
            assert r.status_code == 200 and "工单" in r.text and r.headers["content-type"].startswith("text/html")
        js = c.get("/admin/assets/app.js")
        assert js.text == "console.log(1)" and js.headers["content-type"].startswith("text/javascript")
        assert c.get("/admin/../secret.txt").text != "no"
        assert "工单" in c.get("/admin/%2e%2e/secret.txt").text  # traversal gets the app, never the file


def test_says_how_to_build_it_when_missing(tmp_path: Path) -> None:
    with client(tmp_path, tmp_path / "nothing") as c:
        r = c.get("/admin")
        assert r.status_code == 503 and "make ui" in r.text and "管理界面尚未构建" in r.text
