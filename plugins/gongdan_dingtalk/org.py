"""DingTalk org chart through the internal app's API (企业内部应用).

``GET /gettoken?appkey=&appsecret=`` -> ``access_token`` (cached until ``expires_in``);
``POST /topapi/v2/department/get`` for the root (dept 1), then
``POST /topapi/v2/department/listsub`` breadth-first for the tree; and
``POST /topapi/v2/user/list`` (cursor paging) for each department's members, whose
``leader`` flag marks the department's leaders. A user's managers are the leaders of
the departments they belong to (themselves excepted). Every fetch is complete.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from gongdan.connectors import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    Setting,
    load_settings,
    raise_for_http_status,
    translate_transport_errors,
)
from gongdan.hookspecs import OrgDepartment, OrgSnapshot, OrgUser

from .connector import DEFAULT_BASE_URL

SETTINGS = (
    Setting("app_key", "internal app AppKey", required=True),
    Setting("app_secret", "internal app AppSecret", secret=True, required=True),
    Setting("base_url", "API base URL", default=DEFAULT_BASE_URL),
    Setting("timeout", "seconds per request", default="10"),
)

RETRYABLE = frozenset({-1, 90002, 90018})  # busy; calls over the rate limit


def _check(answer: httpx.Response, channel: str = "dingtalk-org") -> dict[str, Any]:
    raise_for_http_status(answer, channel=channel)
    body: dict[str, Any] = answer.json()
    code = body.get("errcode", 0)
    if code == 0:
        return body
    what = f"{channel}: errcode {code} {body.get('errmsg', '')}".strip()
    if code in RETRYABLE:
        raise RetryableDeliveryError(what, provider_code=code, retry_after=10.0)
    raise PermanentDeliveryError(what, provider_code=code)


class AccessToken:
    """An internal app's ``access_token`` (``GET /gettoken``), cached until it expires."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the token (DingTalk said it is invalid); the next get() fetches one."""
        with self._lock:
            self._token = None

    def get(self, client: httpx.Client, base: str, key: str, secret: str,
            channel: str = "dingtalk-org") -> str:
        """The cached token, fetched when absent or expired."""
        with self._lock:
            if self._token and self._clock() < self._expires:
                return self._token
            with translate_transport_errors(channel):
                answer = client.get(base + "/gettoken",
                                    params={"appkey": key, "appsecret": secret})
            body = _check(answer, channel)
            self._token = str(body["access_token"])
            self._expires = self._clock() + max(0.0, float(body.get("expires_in", 7200)) - 60)
            return self._token


def api_post(client: httpx.Client, base: str, token: str, path: str, payload: dict[str, Any],
             channel: str = "dingtalk-org") -> dict[str, Any]:
    """One ``POST {base}{path}?access_token=`` call; the answer when errcode is 0."""
    with translate_transport_errors(channel):
        answer = client.post(base + path, params={"access_token": token}, json=payload)
    return _check(answer, channel)


class DingTalkOrgSource:
    """Reads departments and users from DingTalk."""

    name = "dingtalk"
    settings_prefix = "dingtalk"
    settings = SETTINGS
    page_size = 100

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = environ
        self._client = client
        self._tokens = AccessToken(clock)

    def fetch(self, *, since: datetime | None = None) -> OrgSnapshot:
        """Every department and user (``since`` is ignored)."""
        s = load_settings("dingtalk", SETTINGS, environ=self._environ)
        client = self._client or httpx.Client(timeout=s.get_float("timeout", 10.0))
        base = s.get_str("base_url").rstrip("/")
        try:
            token = self._tokens.get(client, base, s.get_str("app_key"),
                                     s.get_secret("app_secret"))

            def post(path: str, payload: dict[str, Any]) -> dict[str, Any]:
                return api_post(client, base, token, path, payload)

            return self._fetch(post)
        finally:
            if self._client is None:
                client.close()

    def _fetch(self, post: Callable[[str, dict[str, Any]], dict[str, Any]]) -> OrgSnapshot:
        root = post("/topapi/v2/department/get", {"dept_id": 1})["result"]
        depts: list[dict[str, Any]] = [{"dept_id": 1, "name": root.get("name", ""),
                                        "parent_id": None}]
        queue = [1]
        while queue:
            parent = queue.pop(0)
            for d in post("/topapi/v2/department/listsub", {"dept_id": parent})["result"]:
                depts.append(d)
                queue.append(d["dept_id"])
        leaders: dict[str, list[str]] = {}
        raw_users: dict[str, dict[str, Any]] = {}
        for d in depts:
            dept_id = str(d["dept_id"])
            cursor = 0
            while True:
                page = post("/topapi/v2/user/list", {"dept_id": d["dept_id"], "cursor": cursor,
                                                     "size": self.page_size})["result"]
                for u in page.get("list", []):
                    raw_users.setdefault(u["userid"], u)
                    if u.get("leader"):
                        leaders.setdefault(dept_id, []).append(u["userid"])
                if not page.get("has_more"):
                    break
                cursor = page["next_cursor"]
        departments = tuple(
            OrgDepartment(
                id=str(d["dept_id"]), name=str(d.get("name", "")),
                parent_id=str(d["parent_id"]) if d.get("parent_id") else None,
                leader_ids=tuple(leaders.get(str(d["dept_id"]), [])),
            )
            for d in depts
        )
        users = []
        for uid, u in raw_users.items():
            dept_ids = tuple(str(x) for x in u.get("dept_id_list", []))
            managers = tuple(dict.fromkeys(
                m for dept in dept_ids for m in leaders.get(dept, []) if m != uid))
            users.append(OrgUser(
                id=uid, name=u.get("name", uid), department_ids=dept_ids,
                mobile=u.get("mobile", ""), email=u.get("email", "") or u.get("org_email", ""),
                title=u.get("title", ""), manager_ids=managers,
                active=bool(u.get("active", True)),
            ))
        return OrgSnapshot(source=self.name, departments=departments, users=tuple(users),
                           complete=True)
