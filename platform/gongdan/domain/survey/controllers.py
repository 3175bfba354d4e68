"""HTTP: the customer's survey page. No token header: the link's token authenticates it
(the app's auth middleware excludes `/survey`)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery

from gongdan.domain.survey import services

MAX_BODY = 16 << 10  # a score, yes/no and 500 characters


def _html(page: services.Page) -> Response[str]:
    return Response(page.html, status_code=page.status, media_type=MediaType.HTML,
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                             "X-Frame-Options": "DENY"})


class SurveyController(Controller):
    """`/survey/{number}?token=`: the satisfaction survey sent after archive."""

    path = "/survey"
    include_in_schema = False

    @get("/{number:str}")
    async def survey_form(self, request: Request[Any, Any, Any], number: FromPath[str],
                          token: FromQuery[str] = "") -> Response[str]:
        """The survey form (404 page for a wrong or missing token)."""
        return _html(await services.show(request.app.state.settings, number, token))

    @post("/{number:str}", status_code=200)
    async def survey_answer(self, request: Request[Any, Any, Any],
                            number: FromPath[str]) -> Response[str]:
        """The customer's answer (form-encoded: token, score, solved, comment)."""
        if len(await request.body()) > MAX_BODY:
            return _html(services.render("too_large", 413))
        form = await request.form()
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        state = request.app.state
        return _html(await services.answer(state.db, state.settings, number, values))
