"""HTTP: engineers, their import from CSV/Excel, location and shift."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from gongdan.auth import allowed
from gongdan.domain.engineers import services
from gongdan.errors import FieldError, invalid


class LocationIn(msgspec.Struct, kw_only=True):
    """Where the engineer is now."""

    lat: float
    lon: float
    channel: str = "app"


def _ctx(request: Request[Any, Any, Any]) -> tuple[Any, Any]:
    return request.app.state.db, request.app.state.settings


class EngineersController(Controller):
    """Engineers."""

    path = "/api/engineers"
    tags = ["engineers"]  # noqa: RUF012

    @get("", guards=[allowed("engineers.read")])
    async def list_all(self, request: Request[Any, Any, Any], team: FromQuery[str | None] = None,
                       on_shift: FromQuery[bool | None] = None) -> dict:
        """Every engineer (an engineer sees only themselves)."""
        items = await services.list_engineers(request.app.state.settings, request.user, team=team,
                                              on_shift=on_shift)
        return {"items": items}

    @post("", guards=[allowed("engineers.write")])
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]) -> dict:
        """A new engineer (and their user account, role engineer)."""
        db, settings = _ctx(request)
        return await services.create_engineer(db, settings, data)

    @post("/import", guards=[allowed("engineers.write")], status_code=200)
    async def import_file(self, request: Request[Any, Any, Any],
                          data: MultipartBody[dict[str, Any]]) -> dict:
        """CSV or XLSX: every row is checked; any error -> 422 with row-level errors, nothing stored."""
        upload = next((v for v in data.values() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise invalid("请上传 .csv 或 .xlsx 文件（表单字段 file）",
                          "upload a .csv or .xlsx file (form field `file`)",
                          [FieldError(key="file", message_zh="缺少文件", message_en="no file")])
        content = await upload.read()
        db, settings = _ctx(request)
        return await services.import_engineers(db, settings, content, upload.filename or "")

    @get("/{engineer_id:str}", guards=[allowed("engineers.read")])
    async def get_one(self, request: Request[Any, Any, Any], engineer_id: FromPath[str]) -> dict:
        """One engineer."""
        return await services.get_engineer(request.app.state.settings, engineer_id, request.user)

    @patch("/{engineer_id:str}", guards=[allowed("engineers.write")])
    async def update(self, request: Request[Any, Any, Any], engineer_id: FromPath[str],
                     data: JSONBody[dict[str, Any]]) -> dict:
        """Change some attributes."""
        db, settings = _ctx(request)
        return await services.update_engineer(db, settings, engineer_id, data)

    @post("/{engineer_id:str}/location", guards=[allowed("engineers.self")], status_code=200)
    async def location(self, request: Request[Any, Any, Any], engineer_id: FromPath[str],
                       data: JSONBody[LocationIn]) -> dict:
        """The engineer's current position (the engineer themselves, or admin/dispatcher)."""
        db, settings = _ctx(request)
        return await services.set_location(db, settings, engineer_id,
                                           {"lat": data.lat, "lon": data.lon}, request.user)

    @post("/{engineer_id:str}/on-shift", guards=[allowed("engineers.self")], status_code=200)
    async def on_shift(self, request: Request[Any, Any, Any], engineer_id: FromPath[str]) -> dict:
        """Come on shift: waiting tickets are routed again."""
        db, settings = _ctx(request)
        return await services.set_shift(db, settings, engineer_id, True, request.user)

    @post("/{engineer_id:str}/off-shift", guards=[allowed("engineers.self")], status_code=200)
    async def off_shift(self, request: Request[Any, Any, Any], engineer_id: FromPath[str]) -> dict:
        """Go off shift."""
        db, settings = _ctx(request)
        return await services.set_shift(db, settings, engineer_id, False, request.user)
