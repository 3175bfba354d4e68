"""HTTP: `GET /api/reports/dispatch` (JSON, CSV, XLSX)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery, QueryParameter

from gongdan.auth import allowed
from gongdan.domain.reports import dispatch
from gongdan.errors import FieldError, invalid

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportsController(Controller):
    """Reports."""

    path = "/api/reports"
    tags = ["reports"]  # noqa: RUF012

    @get("/dispatch", guards=[allowed("reports.read")])
    async def dispatch_day(self, request: Request[Any, Any, Any], date: FromQuery[str | None] = None,
                           line: FromQuery[str | None] = None, tz: FromQuery[str | None] = None,
                           format_: Annotated[str, QueryParameter(name="format")] = "json") -> Response[Any]:
        """The day's dispatch health per line and team (`?format=csv|xlsx` to export)."""
        if format_ not in ("json", "csv", "xlsx"):
            raise invalid("format 应为 json、csv 或 xlsx", "format must be json, csv or xlsx",
                          [FieldError(key="format", message_zh="格式无效", message_en="unknown format")])
        report = await dispatch.dispatch_report(request.app.state.settings, date or None, line or None,
                                                tz or None)
        if format_ == "json":
            return Response(content=report)
        name = f"dispatch-{report['date']}" + (f"-{line}" if line else "")
        if format_ == "csv":
            return Response(content=dispatch.to_csv(report), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        return Response(content=dispatch.to_xlsx(report), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
