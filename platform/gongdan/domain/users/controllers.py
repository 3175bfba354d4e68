"""HTTP: the caller, users and tokens (admins)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from gongdan.auth import PERMISSIONS, allowed
from gongdan.domain.users import services


class UserIn(msgspec.Struct, kw_only=True):
    """A user to create (or whose role/profile to update)."""

    name: str
    role: str
    display_name: str = ""
    profile: dict[str, Any] | None = None


def _user(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "display_name": row["display_name"], "role": row["role"],
            "profile": row["profile"], "active": row["active"]}


class UsersController(Controller):
    """Users and tokens."""

    path = "/api"
    tags = ["users"]  # noqa: RUF012

    @get("/me")
    async def me(self, request: Request[Any, Any, Any]) -> dict:
        """Who the token belongs to, and what the role may do."""
        user = request.user
        return {"name": user.name, "role": user.role,
                "may": sorted(a for a, roles in PERMISSIONS.items() if user.role in roles)}

    @get("/users", guards=[allowed("users.manage")])
    async def list_users(self) -> list[dict]:
        """Every user."""
        return [_user(r) for r in await services.list_users()]

    @post("/users", guards=[allowed("users.manage")])
    async def create_user(self, data: JSONBody[UserIn]) -> dict:
        """Create a user (or update its role and profile); an engineer's profile also becomes
        their dispatch record, as `gongdan demo load` does."""
        user = await services.ensure_user(data.name, data.role, data.display_name, data.profile)
        if data.role == "engineer" and data.profile is not None:
            from gongdan.domain.engineers.services import ensure_engineer

            await ensure_engineer(data.name, user["display_name"] or data.name, data.profile)
        return _user(user)

    @post("/users/{name:str}/tokens/revoke", guards=[allowed("users.manage")],
          status_code=200)
    async def revoke_tokens(self, name: FromPath[str]) -> dict:
        """Revoke every token of a user (cached tokens stop within
        GONGDAN_TOKEN_CACHE_SECONDS)."""
        return {"user": name, "revoked": await services.revoke_tokens(name)}

    @post("/users/{name:str}/tokens", guards=[allowed("users.manage")])
    async def create_token(self, name: FromPath[str]) -> dict:
        """A new API token for a user; shown once."""
        return {"user": name, "token": await services.create_token(name, "api")}
