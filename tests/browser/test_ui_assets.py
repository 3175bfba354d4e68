"""The UI's build must reach the browser with the right Content-Type: Chromium refuses a
module script served as application/octet-stream, and the admin UI is then a blank page."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import Server

pytestmark = pytest.mark.browser


def test_assets_have_their_content_types(server: Server) -> None:
    index = server.http.get("/admin")
    assert index.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/admin/assets/[^"]+)"', index.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        ctype = server.http.get(asset).headers["content-type"]
        expected = "javascript" if asset.endswith(".js") else "text/css"
        assert expected in ctype, (asset, ctype)
