"""HTTP: the caller, sign-in, users, passwords and tokens (admins)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody

from gongdan.auth import PERMISSIONS, allowed
from gongdan.domain.users import services
from gongdan.errors import FieldError, invalid


class UserIn(msgspec.Struct, kw_only=True):
    """A user to create (or whose role/profile to update)."""

    name: str
    role: str
    display_name: str = ""
    profile: dict[str, Any] | None = None
    password: str | None = None  # sets (or replaces) the user's password


class LoginIn(msgspec.Struct, kw_only=True):
    """A user name and password."""

    name: str
    password: str


class PasswordIn(msgspec.Struct, kw_only=True):
    """A new password; `old_password` is required when users change their own."""

    password: str
    old_password: str | None = None


def _user(row: dict[str, Any]) -> dict[str, Any]:
    has_password = row["has_password"] if "has_password" in row else bool(
        row.get("password_hash"))
    return {"name": row["name"], "display_name": row["display_name"], "role": row["role"],
            "profile": row["profile"], "active": row["active"], "has_password": has_password}


class UsersController(Controller):
    """Users and tokens."""

    path = "/api"
    tags = ["users"]  # noqa: RUF012

    @post("/login", exclude_from_auth=True, status_code=200)
    async def login(self, request: Request[Any, Any, Any], data: JSONBody[LoginIn]) -> dict:
        """Sign in with a user name and password: a new API token that expires after
        GONGDAN_LOGIN_TOKEN_HOURS. One 401 for a wrong name or password; 429 after
        GONGDAN_LOGIN_MAX_FAILURES failures of a name or address."""
        settings = request.app.state.settings
        client = request.client.host if request.client else "?"
        return await services.login(
            data.name, data.password, client, token_hours=settings.login_token_hours,
            max_failures=settings.login_max_failures, window=settings.login_lock_seconds,
        )

    @put("/users/{name:str}/password", status_code=200)
    async def set_password(self, request: Request[Any, Any, Any], name: FromPath[str],
                           data: JSONBody[PasswordIn]) -> dict:
        """Set a user's password: admins for anyone; every user for themselves, with
        `old_password`."""
        user = request.user
        if user.role in PERMISSIONS["users.manage"] and (
                user.name != name or data.old_password is None):
            await services.set_password(name, data.password)
        elif user.name == name:
            if data.old_password is None:
                raise invalid("请填写原密码", "the old password is required",
                              [FieldError(key="old_password", message_zh="必填",
                                          message_en="required")])
            services.check_password_policy(data.password)
            settings = request.app.state.settings
            await services.change_own_password(
                user, data.old_password, data.password, max_failures=settings.login_max_failures,
                window=settings.login_lock_seconds)
        else:
            raise services.forbidden(user.role, PERMISSIONS["users.manage"])
        return {"user": name, "password_set": True}

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
        if data.password is not None:
            services.check_password_policy(data.password)
        user = await services.ensure_user(data.name, data.role, data.display_name, data.profile)
        if data.password is not None:
            await services.set_password(data.name, data.password)
            user["password_hash"] = "set"
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
