"""Users and API tokens. A token is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

import msgspec

from gongdan.errors import ApiError, FieldError, invalid, not_found
from gongdan.store.tables import GdToken, GdUser

ROLES = ("admin", "dispatcher", "supervisor", "engineer", "agent", "viewer")
TOKEN_PREFIX = "gd_"


class CurrentUser(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller."""

    id: int
    name: str
    role: str


def hash_token(token: str) -> str:
    """SHA-256 hex of a token (tokens are 256 random bits, so no salt or stretching is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_role(role: str) -> None:
    """422 unless `role` is one of ROLES."""
    if role not in ROLES:
        raise invalid(
            f"角色 {role!r} 未知，可用：{', '.join(ROLES)}",
            f"unknown role {role!r}; known: {', '.join(ROLES)}",
            [FieldError(key="role", message_zh="角色未知", message_en="unknown role")],
        )


async def ensure_user(
    name: str, role: str, display_name: str = "", profile: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The user called `name`, created with `role` when missing (role updated otherwise)."""
    check_role(role)
    if not name.strip():
        raise invalid("用户名不能为空", "a user name may not be empty")
    rows = await GdUser.select().where(GdUser.name == name).output(load_json=True)
    if rows:
        user = rows[0]
        if user["role"] != role or (profile is not None and user["profile"] != profile):
            values: dict[Any, Any] = {GdUser.role: role}
            if profile is not None:
                values[GdUser.profile] = profile
            await GdUser.update(values).where(GdUser.id == user["id"])
            user.update(role=role, profile=profile if profile is not None else user["profile"])
        return user
    await GdUser.insert(
        GdUser(
            name=name,
            role=role,
            display_name=display_name or name,
            profile=profile or {},
            created_at=_now(),
        )
    )
    rows = await GdUser.select().where(GdUser.name == name).output(load_json=True)
    return rows[0]


async def create_token(user_name: str, label: str = "") -> str:
    """A new token for an existing user; returns the token (shown once)."""
    rows = await GdUser.select(GdUser.id).where(GdUser.name == user_name)
    if not rows:
        raise not_found("用户", "user", user_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await GdToken.insert(
        GdToken(user_id=rows[0]["id"], token_hash=hash_token(token), label=label, created_at=_now())
    )
    return token


async def revoke_tokens(user_name: str) -> int:
    """Revoke every token of a user; returns how many were active."""
    rows = await GdUser.select(GdUser.id).where(GdUser.name == user_name)
    if not rows:
        raise not_found("用户", "user", user_name)
    active = await GdToken.select(GdToken.id).where(
        (GdToken.user_id == rows[0]["id"]) & (GdToken.revoked == False)  # noqa: E712
    )
    await GdToken.update({GdToken.revoked: True}).where(GdToken.user_id == rows[0]["id"])
    return len(active)


async def user_for_token(token: str) -> CurrentUser | None:
    """The active user a token belongs to, or None."""
    rows = await GdToken.raw(
        "SELECT u.id, u.name, u.role FROM gd_token t JOIN gd_user u ON u.id = t.user_id "
        "WHERE t.token_hash = {} AND t.revoked = {} AND u.active = {}",
        hash_token(token),
        False,
        True,
    )
    if not rows:
        return None
    r = rows[0]
    return CurrentUser(id=r["id"], name=r["name"], role=r["role"])


async def list_users() -> list[dict[str, Any]]:
    """Every user, without secrets."""
    return list(await GdUser.select().order_by(GdUser.id).output(load_json=True))


def forbidden(role: str, allowed: tuple[str, ...]) -> ApiError:
    """403 naming the caller's role and the roles that may."""
    return ApiError(
        403,
        f"角色 {role} 无权执行此操作（允许：{'、'.join(allowed)}）",
        f"role {role} may not do this (allowed: {', '.join(allowed)})",
    )
