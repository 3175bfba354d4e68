"""The satisfaction survey a customer answers after the ticket is archived.

The archive timer (`gongdan.timers.scheduler._archive`) keeps a random token in the
ticket's `facts.survey_token` and sends the customer `GONGDAN_PUBLIC_URL/survey/<number>?
token=<token>`. The page is rendered here, server-side, from the package's Jinja2 file
template (autoescaped). An answer is recorded through
:func:`gongdan.domain.tickets.services.post_event`, exactly like
`POST /api/tickets/{id}/events`, so the rules' `on survey_answered` triggers and the plugins'
event hooks see it; the token check and the one-answer-only check run in that event's
transaction, after the ticket row is locked, so two answers at once record one.

A wrong or missing token is 404 (the page does not say whether the ticket exists).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from gongdan.domain.tickets import services as tickets
from gongdan.domain.users.services import CurrentUser
from gongdan.errors import ApiError
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdEvent, GdTicket

CHANNEL = "survey"
ACTOR = "customer"
EVENT = "survey_answered"
MAX_COMMENT = 500
SCORES = (1, 2, 3, 4, 5)

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True, trim_blocks=True, lstrip_blocks=True)


class Page:
    """An HTML answer: the status code and the rendered page."""

    def __init__(self, status: int, html: str) -> None:
        self.status = status
        self.html = html


class _Refused(ApiError):
    """Raised inside the answer's transaction: nothing of it is written."""


def render(page: str, status: int, **context: Any) -> Page:
    """The survey template showing `page` (`form`, `thanks`, `answered`, `not_found`)."""
    defaults: dict[str, Any] = {"ticket": None, "token": "", "values": {}, "errors": {},
                                "scores": SCORES, "max_comment": MAX_COMMENT}
    return Page(status, _ENV.get_template("survey.html").render(
        page=page, **{**defaults, **context}))


def _facts(row: dict[str, Any]) -> dict[str, Any]:
    facts = row.get("facts")
    if isinstance(facts, str):
        facts = json.loads(facts or "{}")
    return facts if isinstance(facts, dict) else {}


def _token_matches(row: dict[str, Any], token: str) -> bool:
    kept = str(_facts(row).get("survey_token") or "")
    return bool(kept) and bool(token) and hmac.compare_digest(kept.encode(), token.encode())


async def _row(number: str) -> dict[str, Any] | None:
    rows = await GdTicket.select().where(GdTicket.number == number).output(load_json=True)
    return dict(rows[0]) if rows else None


async def _answered(ticket_id: int) -> bool:
    return bool(await GdEvent.count().where(
        (GdEvent.ticket_id == ticket_id) & (GdEvent.type == EVENT)))


async def _view(settings: Settings, row: dict[str, Any]) -> dict[str, Any]:
    """What the page shows: the number, the title and when the ticket was closed (the last
    move into the state it is in, in `GONGDAN_TIMEZONE`)."""
    tz = ZoneInfo(settings.timezone)
    fields = row.get("fields") or {}
    if isinstance(fields, str):
        fields = json.loads(fields or "{}")
    closed_at: Any = None
    moves = await GdEvent.select(GdEvent.at, GdEvent.after).where(
        (GdEvent.ticket_id == row["id"]) & (GdEvent.type == "state_changed")
    ).order_by(GdEvent.seq, ascending=False).limit(20).output(load_json=True)
    for m in moves:
        after = m["after"] or {}
        if isinstance(after, dict) and after.get("state") == row.get("state"):
            closed_at = m["at"]
            break
    if closed_at is None:
        closed_at = row.get("updated_at")
    when = ""
    if isinstance(closed_at, dt.datetime):
        if closed_at.tzinfo is None:
            closed_at = closed_at.replace(tzinfo=dt.UTC)
        when = closed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return {"number": row["number"], "title": str(fields.get("title") or ""), "closed_at": when}


def not_found_page() -> Page:
    return render("not_found", 404)


async def show(settings: Settings, number: str, token: str) -> Page:
    """`GET /survey/{number}?token=`: the form, or 'already answered', or 404."""
    row = await _row(number)
    if row is None or not _token_matches(row, token):
        return not_found_page()
    view = await _view(settings, row)
    if await _answered(int(row["id"])):
        return render("answered", 200, ticket=view)
    return render("form", 200, ticket=view, token=token)


def validate(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The answer from the posted form, and per-field errors (zh, en)."""
    errors: dict[str, tuple[str, str]] = {}
    raw_score = (form.get("score") or "").strip()
    score: int | None = None
    with contextlib.suppress(ValueError):
        score = int(raw_score)
    if score not in SCORES:
        errors["score"] = ("请选择 1 到 5 分", "choose a score from 1 to 5")
    solved_raw = (form.get("solved") or "").strip()
    if solved_raw not in ("yes", "no"):
        errors["solved"] = ("请选择“解决了”或“没解决”", "choose yes or no")
    comment = (form.get("comment") or "").replace("\r\n", "\n").strip()
    if len(comment) > MAX_COMMENT:
        errors["comment"] = (f"意见最多 {MAX_COMMENT} 个字（现在 {len(comment)} 个）",
                             f"at most {MAX_COMMENT} characters (this is {len(comment)})")
    return {"score": score, "solved": solved_raw == "yes", "comment": comment}, errors


async def answer(db: Database, settings: Settings, number: str, form: dict[str, str]) -> Page:
    """`POST /survey/{number}`: record the customer's answer as the `survey_answered` event.

    The event (channel `survey`, actor `customer`) has `data` = `{score, solved, comment,
    unsolved}`: `unsolved: true` for a "not solved" answer, which is evidence of rework
    (the ticket is not reopened). 404 for a wrong token, 409 for a second answer, 422 for
    bad input (the form again, with each field's error)."""
    token = str(form.get("token") or "")
    row = await _row(number)
    if row is None or not _token_matches(row, token):
        return not_found_page()
    view = await _view(settings, row)
    values, errors = validate(form)
    if errors:
        return render("form", 422, ticket=view, token=token, errors=errors,
                      values={"score": form.get("score") or "", "solved": form.get("solved") or "",
                              "comment": form.get("comment") or ""})

    async def guard(locked: dict[str, Any]) -> None:
        # re-checked on the locked row: a token replaced since, or an answer that won a race
        if not _token_matches(locked, token):
            raise _Refused(404, "链接无效", "link not valid")
        if await _answered(int(locked["id"])):
            raise _Refused(409, "已提交过", "already answered")

    body = {"type": EVENT, "channel": CHANNEL, "score": values["score"],
            "solved": values["solved"], "comment": values["comment"],
            "unsolved": not values["solved"]}
    try:
        await tickets.post_event(db, settings, int(row["id"]), body,
                                 CurrentUser(id=0, name=ACTOR, role="admin"),
                                 channels=(CHANNEL,), within=guard)
    except _Refused as exc:
        if exc.status == 409:
            return render("answered", 409, ticket=view)
        return not_found_page()
    return render("thanks", 200, ticket=view, values=values)
