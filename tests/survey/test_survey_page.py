"""The customer's survey page, on SQLite and PostgreSQL: a closed ticket is archived by the
real scheduler (injectable clock), which writes the real survey message with its real
link; the customer opens that link without a login, answers, and the answer is the
`survey_answered` event on the ticket's timeline. Wrong tokens are 404, a second answer
409, bad input 422 with the form again."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from gongdan.timers import clock
from gongdan.timers.scheduler import Scheduler
from tests.time.conftest import TimeApi, repair_line_with_rules

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")
H = dt.timedelta(hours=1)


async def archived_ticket(api: TimeApi, n: int = 1, rules: str | None = None,
                          **overrides: Any) -> tuple[dict, str]:
    """A ticket closed and archived; returns it and the survey link's path and query."""
    if rules is None:
        await repair_line_with_rules(api)
    else:
        await repair_line_with_rules(api, rules)
    r = await api.post("/api/lines/repair/tickets", demo_ticket(n, **overrides))
    assert r.status_code == 201, r.text
    t = r.json()
    for body in ({"type": "photo", "kind": "photo", "url": "x.jpg"},
                 {"type": "customer_signature", "signature": "sig"},
                 {"type": "root_cause", "text": "轴承磨损"}):
        assert (await api.post(f"/api/tickets/{t['id']}/events", body)).status_code == 200
    t = (await api.get(f"/api/tickets/{t['id']}")).json()
    for to in ("已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案"):
        r = await api.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    clock.advance(49 * H)
    assert await api.run(Scheduler(api.db, api.settings).tick) == 1
    msgs = (await api.get("/api/outbox", params={"ticket": t["id"]})).json()["items"]
    (survey,) = [m for m in msgs if m["kind"] == "survey"]
    found = re.search(r"https?://[^/\s]+(/survey/[^\s?]+\?token=[\w-]+)", survey["text"])
    assert found, survey["text"]
    return t, found.group(1)


async def anon_get(api: TimeApi, url: str) -> httpx.Response:
    return await api.client.get(url)  # no Authorization header: the customer has no login


async def anon_post(api: TimeApi, url: str, form: dict[str, str]) -> httpx.Response:
    return await api.client.post(url, data=form)


def _split(link: str) -> tuple[str, str]:
    path, _, query = link.partition("?token=")
    return path, query


async def test_the_link_in_the_message_opens_the_form_and_an_answer_is_an_event(
        tapi: TimeApi) -> None:
    t, link = await archived_ticket(tapi)
    assert link.startswith(f"/survey/{t['number']}?token=")
    r = await anon_get(tapi, link)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert t["number"] in page and t["fields"]["title"] in page
    assert "满意度调研" in page and "Satisfaction survey" in page
    assert "问题解决了吗" in page and "Was it solved" in page
    assert 'name="viewport"' in page
    # the closing date: when the ticket moved into 已结案, in the business time zone
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    closed = next(e for e in reversed(tl) if e["type"] == "state_changed"
                  and e["after"] == {"state": "已结案"})
    assert closed["at"][:16].replace("T", " ") in page

    path, token = _split(link)
    r = await anon_post(tapi, path, {"token": token, "score": "4", "solved": "yes",
                                     "comment": "师傅很专业 <b>赞</b>"})
    assert r.status_code == 200, r.text
    assert "感谢您的评价" in r.text and "Thank you" in r.text
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    (answer,) = [e for e in tl if e["type"] == "survey_answered"]
    assert answer["actor"] == "customer" and answer["channel"] == "survey"
    assert answer["data"] == {"score": 4, "solved": True, "comment": "师傅很专业 <b>赞</b>",
                              "unsolved": False}
    assert answer["seq"] == tl[-1]["seq"]

    # a second answer is refused, and nothing more is recorded
    r = await anon_post(tapi, path, {"token": token, "score": "1", "solved": "no"})
    assert r.status_code == 409, r.text
    assert "已提交过" in r.text and "already been answered" in r.text
    # opening the link again says so too
    r = await anon_get(tapi, link)
    assert r.status_code == 200 and "已提交过" in r.text and "<form" not in r.text
    tl2 = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert [e for e in tl2 if e["type"] == "survey_answered"] == [answer]


async def test_not_solved_is_flagged_unsolved_and_the_ticket_is_not_reopened(
        tapi: TimeApi) -> None:
    t, link = await archived_ticket(tapi)
    path, token = _split(link)
    r = await anon_post(tapi, path, {"token": token, "score": "2", "solved": "no"})
    assert r.status_code == 200, r.text
    assert "未解决的问题" in r.text
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    (answer,) = [e for e in tl if e["type"] == "survey_answered"]
    assert answer["data"] == {"score": 2, "solved": False, "comment": "", "unsolved": True}
    assert (await tapi.get(f"/api/tickets/{t['id']}")).json()["state"] == "已结案"


async def test_a_wrong_or_missing_token_is_404_and_says_nothing_of_the_ticket(
        tapi: TimeApi) -> None:
    t, link = await archived_ticket(tapi)
    path, token = _split(link)
    for url in (path, f"{path}?token=", f"{path}?token={token[:-1]}x",
                f"/survey/WX-00000000-0000?token={token}"):
        r = await anon_get(tapi, url)
        assert r.status_code == 404, url
        assert "链接无效" in r.text and t["number"] not in r.text
        assert t["fields"]["title"] not in r.text
    # a ticket that exists but has no survey looks the same as one that does not
    other = (await tapi.post("/api/lines/repair/tickets", demo_ticket(2))).json()
    r = await anon_get(tapi, f"/survey/{other['number']}?token=anything")
    assert r.status_code == 404 and other["number"] not in r.text
    for form in ({"score": "5", "solved": "yes"}, {"token": token[:-1] + "x", "score": "5",
                                                    "solved": "yes"}):
        r = await anon_post(tapi, path, form)
        assert r.status_code == 404 and t["number"] not in r.text
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert not [e for e in tl if e["type"] == "survey_answered"]


async def test_bad_input_shows_the_form_again_with_each_fields_error(tapi: TimeApi) -> None:
    t, link = await archived_ticket(tapi)
    path, token = _split(link)
    r = await anon_post(tapi, path, {"token": token, "score": "6", "solved": "maybe",
                                     "comment": "长" * 501})
    assert r.status_code == 422, r.text
    page = r.text
    assert "<form" in page and t["number"] in page
    assert 'data-testid="error-score"' in page and "1 到 5" in page and "1 to 5" in page
    assert 'data-testid="error-solved"' in page and "yes or no" in page
    assert 'data-testid="error-comment"' in page and "500" in page
    assert "长" * 501 in page  # what the customer typed is kept
    r = await anon_post(tapi, path, {"token": token, "score": "", "solved": "yes",
                                     "comment": "<script>alert(1)</script>"})
    assert r.status_code == 422
    assert "<script>alert(1)</script>" not in r.text  # autoescaped
    assert "&lt;script&gt;" in r.text
    assert 'data-testid="error-solved"' not in r.text
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert not [e for e in tl if e["type"] == "survey_answered"]
    # then a good answer goes through
    r = await anon_post(tapi, path, {"token": token, "score": "5", "solved": "yes",
                                     "comment": "长" * 500})
    assert r.status_code == 200, r.text


async def test_a_rule_sees_the_answer(tapi: TimeApi) -> None:
    """The answer goes through the events' service path, so the rules see it: a line that
    chooses to reopen unsolved tickets says so with an `on survey_answered` trigger (the
    platform itself never reopens)."""
    from tests.time.conftest import LOG_RULES

    rules = LOG_RULES.replace(
        'on customer_confirmed: 等待客户确认 -> 已结案',
        'on customer_confirmed: 等待客户确认 -> 已结案\n'
        'on survey_answered(unsolved = true): 已结案 -> 维修中')
    assert rules != LOG_RULES
    t, link = await archived_ticket(tapi, rules=rules)
    path, token = _split(link)
    r = await anon_post(tapi, path, {"token": token, "score": "1", "solved": "no"})
    assert r.status_code == 200, r.text
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    answer, moved = tl[-2:]
    assert answer["type"] == "survey_answered" and answer["data"]["unsolved"] is True
    assert moved["type"] == "state_changed" and moved["after"] == {"state": "维修中"}
    assert moved["data"]["trigger"] == "survey_answered"


async def test_two_answers_at_once_record_one(tapi: TimeApi) -> None:
    import asyncio

    t, link = await archived_ticket(tapi)
    path, token = _split(link)
    answers = await asyncio.gather(*(
        anon_post(tapi, path, {"token": token, "score": str(s), "solved": "yes"})
        for s in (1, 2, 3, 4)))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert len([e for e in tl if e["type"] == "survey_answered"]) == 1


async def test_an_oversized_body_is_refused_and_records_nothing(tapi: TimeApi) -> None:
    t, link = await archived_ticket(tapi)
    path, token = _split(link)
    r = await anon_post(tapi, path, {"token": token, "score": "5", "solved": "yes",
                                     "comment": "x" * 20_000})
    assert r.status_code == 413 and "内容过长" in r.text and "Too much text" in r.text
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert not [e for e in tl if e["type"] == "survey_answered"]
