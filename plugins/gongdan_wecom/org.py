"""WeCom org chart: departments (with leaders) and users (with direct leaders).

``GET /cgi-bin/department/list`` gives every department with ``parentid`` and
``department_leader``; ``GET /cgi-bin/user/list?department_id=N`` gives each
department's members with ``department``, ``direct_leader``, ``position`` and ``status``
(1 active, 2 disabled, 4 not yet activated, 5 left). WeCom has no "changed since"
query, so every fetch is complete; the sync compares it with what it has.
Fetching only: writing teams and engineers is the sync job's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx

from gongdan.connectors import Setting, load_settings
from gongdan.hookspecs import OrgDepartment, OrgSnapshot, OrgUser

from .connector import DEFAULT_BASE_URL, TokenCache

SETTINGS = (
    Setting("corp_id", "企业 ID (corpid)", required=True),
    Setting("contacts_secret",
            "secret allowed to read the contacts (通讯录); empty: GONGDAN_WECOM_SECRET",
            secret=True),
    Setting("secret", "the application's secret (corpsecret)", secret=True),
    Setting("base_url", "API base URL", default=DEFAULT_BASE_URL),
    Setting("timeout", "seconds per request", default="10"),
)


class WeComOrgSource:
    """Reads departments and users from WeCom's contacts API."""

    name = "wecom"
    settings_prefix = "wecom"
    settings = SETTINGS

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = environ
        self._client = client
        self._clock = clock

    def fetch(self, *, since: datetime | None = None) -> OrgSnapshot:
        """Every department and user (``since`` is ignored: WeCom cannot filter)."""
        s = load_settings("wecom", SETTINGS, environ=self._environ)
        client = self._client or httpx.Client(timeout=s.get_float("timeout", 10.0))
        try:
            api = TokenCache(
                client, channel="wecom-org", base_url=s.get_str("base_url"),
                corp_id=s.get_str("corp_id"),
                secret=s.get_secret("contacts_secret") or s.get_secret("secret"),
                clock=self._clock,
            )
            return self._fetch(api)
        finally:
            if self._client is None:
                client.close()

    def _fetch(self, api: TokenCache) -> OrgSnapshot:
        depts = api.call("GET", "/cgi-bin/department/list").get("department", [])
        departments = tuple(
            OrgDepartment(
                id=str(d["id"]),
                name=str(d.get("name", "")),
                parent_id=str(d["parentid"]) if d.get("parentid") else None,
                leader_ids=tuple(d.get("department_leader", [])),
            )
            for d in depts
        )
        users: dict[str, OrgUser] = {}
        for dept in departments:
            listed = api.call("GET", "/cgi-bin/user/list", params={"department_id": dept.id})
            for u in listed.get("userlist", []):
                if u["userid"] in users:
                    continue
                users[u["userid"]] = OrgUser(
                    id=u["userid"],
                    name=u.get("name", u["userid"]),
                    department_ids=tuple(str(d) for d in u.get("department", [])),
                    mobile=u.get("mobile", ""),
                    email=u.get("email", "") or u.get("biz_mail", ""),
                    title=u.get("position", ""),
                    manager_ids=tuple(u.get("direct_leader", [])),
                    active=u.get("status", 1) in (1, 4),
                )
        return OrgSnapshot(source=self.name, departments=departments,
                           users=tuple(users.values()), complete=True)
