"""One error shape for every failure the API reports.

    {"status": 422, "message_zh": "...", "message_en": "...",
     "extra": [{"key": "customer_phone", "message_zh": "...", "message_en": "..."}]}

Domain code raises `ApiError` (or one of its helpers); `exception_handlers()` maps it and
Litestar's own exceptions to that shape in one place.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

log = logging.getLogger("gongdan")


class FieldError(msgspec.Struct, kw_only=True):
    """A problem with one field; `key` is its path (`location.lat`)."""

    key: str
    message_zh: str
    message_en: str


class ErrorBody(msgspec.Struct, kw_only=True):
    """The body of every error response."""

    status: int
    message_zh: str
    message_en: str
    extra: list[FieldError] = []
    data: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class ApiError(Exception):
    """An error the API reports to its caller, in Chinese and English."""

    def __init__(
        self,
        status: int,
        message_zh: str,
        message_en: str,
        extra: list[FieldError] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.status = status
        self.message_zh = message_zh
        self.message_en = message_en
        self.extra = extra or []
        self.data = data

    def with_data(self, data: dict[str, Any]) -> ApiError:
        """This error with machine-readable `data` attached (e.g. rules diagnostics)."""
        self.data = {**(self.data or {}), **data}
        return self

    def body(self) -> ErrorBody:
        """The response body for this error."""
        return ErrorBody(
            status=self.status,
            message_zh=self.message_zh,
            message_en=self.message_en,
            extra=self.extra,
            data=msgspec.UNSET if self.data is None else self.data,
        )


def not_found(what_zh: str, what_en: str, ident: object) -> ApiError:
    """404 for a missing line, ticket, version..."""
    return ApiError(404, f"{what_zh}不存在：{ident}", f"{what_en} not found: {ident}")


def conflict(message_zh: str, message_en: str, data: dict[str, Any] | None = None) -> ApiError:
    """409: the request is well-formed but the resource's state refuses it."""
    return ApiError(409, message_zh, message_en, data=data)


def invalid(message_zh: str, message_en: str, extra: list[FieldError] | None = None) -> ApiError:
    """422: the request is well-formed JSON but its content is wrong."""
    return ApiError(422, message_zh, message_en, extra)


def _respond(body: ErrorBody) -> Response[Any]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=body.status,
        media_type=MediaType.JSON,
    )


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _respond(exc.body())


_STATUS_TEXT = {
    400: ("请求格式错误", "Bad request"),
    401: ("未认证：请提供有效的 API 令牌", "Not authenticated: send a valid API token"),
    403: ("无权执行此操作", "Your role may not do this"),
    404: ("资源不存在", "Not found"),
    405: ("不支持此方法", "Method not allowed"),
    409: ("冲突", "Conflict"),
    413: ("请求体过大", "Request body too large"),
    415: ("不支持的媒体类型", "Unsupported media type"),
    429: ("请求过多", "Too many requests"),
}


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    extra = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            key = str(item.get("key") or "")
            msg = str(item.get("message") or "")
            extra.append(FieldError(key=key, message_zh=f"格式错误：{msg}", message_en=msg))
    return _respond(
        ErrorBody(
            status=400,
            message_zh="请求格式错误",
            message_en=f"Bad request: {exc.detail}",
            extra=extra,
        )
    )


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    zh, en = _STATUS_TEXT.get(exc.status_code, ("请求失败", "Request failed"))
    detail = exc.detail if exc.detail and exc.detail != en else ""
    return _respond(
        ErrorBody(
            status=exc.status_code,
            message_zh=zh,
            message_en=f"{en}: {detail}" if detail else en,
        )
    )


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(
        ErrorBody(status=500, message_zh="服务器内部错误", message_en="Internal server error")
    )


def exception_handlers() -> dict[Any, Any]:
    """The app's exception handlers: everything leaves in the one error shape."""
    return {
        ApiError: _api_error,
        ValidationException: _validation_error,
        HTTPException: _http_error,
        Exception: _internal_error,
    }
