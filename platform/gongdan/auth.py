"""Authentication (`Authorization: Bearer <token>`) and role guards.

The permission table lives here, in one place, and docs/roles.md mirrors it.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from gongdan.domain.users.services import CurrentUser, forbidden, user_for_token
from gongdan.errors import ApiError

ALL = ("admin", "dispatcher", "supervisor", "engineer", "agent", "viewer")

# action -> roles that may perform it
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "lines.read": ALL,
    "lines.write": ("admin",),
    "rules.write": ("admin", "supervisor"),
    "rules.activate": ("admin",),
    "tickets.read": ALL,  # engineers: only tickets assigned to them
    "tickets.create": ("admin", "dispatcher", "supervisor", "agent"),
    "tickets.update": ("admin", "dispatcher", "supervisor", "agent", "engineer"),
    "tickets.assign": ("admin", "dispatcher", "supervisor"),
    "tickets.event": ("admin", "dispatcher", "supervisor", "agent", "engineer"),
    "tickets.move": ("admin", "dispatcher", "supervisor", "engineer"),
    "customers.read": ("admin", "dispatcher", "supervisor", "agent", "viewer"),
    "users.manage": ("admin",),
    "engineers.read": ("admin", "dispatcher", "supervisor", "engineer"),  # engineers: themselves
    "engineers.write": ("admin", "dispatcher"),
    "engineers.self": ("admin", "dispatcher", "supervisor", "engineer"),  # location, shift
    "tickets.claim": ("engineer",),  # claim, decline, release their own offers and tickets
    "tickets.dispatch": ("admin", "dispatcher", "supervisor"),  # reoffer, reassign, transfer
    "dispatch.read": ("admin", "dispatcher", "supervisor"),
    "reports.read": ("admin", "dispatcher", "supervisor"),  # the daily dispatch report
    "outbox.manage": ("admin",),
    "org.sync": ("admin",),
    "calendars.read": ALL,
    "calendars.write": ("admin",),
    "packs.read": ("admin", "supervisor"),
    "packs.install": ("admin",),
}

# Roles that only ever see tickets assigned to them.
OWN_TICKETS_ONLY = {"engineer"}


def unauthenticated() -> ApiError:
    """401 in the one error shape."""
    return ApiError(
        401,
        "未认证：请在 Authorization 头中提供 Bearer 令牌",
        "Not authenticated: send `Authorization: Bearer <token>`",
    )


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    """Looks the bearer token up (hashed), with a short per-process cache."""

    cache_seconds: float = 10.0
    _cache: dict[str, tuple[float, CurrentUser]] = {}  # noqa: RUF012 - process-wide on purpose

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated()
        token = token.strip()
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return AuthenticationResult(user=hit[1], auth=token)
        user = await user_for_token(token)
        if user is None:
            raise unauthenticated()
        if self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now + self.cache_seconds, user)
        return AuthenticationResult(user=user, auth=token)


def allowed(action: str) -> Any:
    """A route guard: the caller's role must be allowed `action`."""
    roles = PERMISSIONS[action]

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user: CurrentUser = connection.user
        if user.role not in roles:
            raise forbidden(user.role, roles)

    guard.__name__ = f"allowed_{action.replace('.', '_')}"
    return guard


def require(user: CurrentUser, action: str) -> None:
    """The same check inside a handler (for actions that depend on the request body)."""
    roles = PERMISSIONS[action]
    if user.role not in roles:
        raise forbidden(user.role, roles)
