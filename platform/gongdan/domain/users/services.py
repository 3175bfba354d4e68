"""Users, passwords and API tokens. A token is shown once; only its SHA-256 is stored.
A password is stored as a salted scrypt hash (`scrypt$N$r$p$salt$hash`)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from typing import Any

import msgspec
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from gongdan.errors import ApiError, FieldError, invalid, not_found
from gongdan.store.tables import GdToken, GdUser

ROLES = ("admin", "dispatcher", "supervisor", "engineer", "agent", "viewer")
TOKEN_PREFIX = "gd_"
LOGIN_LABEL = "login"  # the label of tokens issued by POST /api/login


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


async def create_token(
    user_name: str, label: str = "", expires_at: dt.datetime | None = None
) -> str:
    """A new token for an existing user; returns the token (shown once). `expires_at`
    None: the token is valid until revoked."""
    rows = await GdUser.select(GdUser.id).where(GdUser.name == user_name)
    if not rows:
        raise not_found("用户", "user", user_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await GdToken.insert(
        GdToken(user_id=rows[0]["id"], token_hash=hash_token(token), label=label,
                created_at=_now(), expires_at=expires_at)
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
    """The active user a token belongs to (unless revoked or expired), or None."""
    rows = await GdToken.raw(
        "SELECT u.id, u.name, u.role FROM gd_token t JOIN gd_user u ON u.id = t.user_id "
        "WHERE t.token_hash = {} AND t.revoked = {} AND u.active = {} "
        "AND (t.expires_at IS NULL OR t.expires_at > {})",
        hash_token(token),
        False,
        True,
        _now(),
    )
    if not rows:
        return None
    r = rows[0]
    return CurrentUser(id=r["id"], name=r["name"], role=r["role"])


async def list_users() -> list[dict[str, Any]]:
    """Every user, without secrets (`has_password` says whether one is set)."""
    rows = await GdUser.select().order_by(GdUser.id).output(load_json=True)
    for row in rows:
        row["has_password"] = bool(row.pop("password_hash", ""))
    return list(rows)


# --- passwords --------------------------------------------------------------------------

# scrypt cost: 2**14 x 8 x 128 bytes = 16 MiB and some 50 ms per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PASSWORD_MIN, PASSWORD_MAX = 8, 200


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, with its parameters."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


# Checked when the user is missing or has no password, so both cost the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def check_password_policy(password: str, key: str = "password") -> None:
    """422 unless the password is 8 to 200 characters."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise invalid(
            f"密码长度应为 {PASSWORD_MIN} 到 {PASSWORD_MAX} 个字符",
            f"a password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long",
            [FieldError(key=key, message_zh=f"至少 {PASSWORD_MIN} 个字符",
                        message_en=f"at least {PASSWORD_MIN} characters")],
        )


def _write_transaction() -> Any:
    engine = GdUser._meta.db
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


async def set_password(user_name: str, password: str) -> None:
    """Set (or replace) a user's password, in one transaction with signing out the user's
    password sessions (tokens from POST /api/login; other tokens stay)."""
    check_password_policy(password)
    hashed = await asyncio.to_thread(hash_password, password)  # scrypt: off the event loop
    async with _write_transaction():
        rows = await GdUser.update({GdUser.password_hash: hashed}).where(
            GdUser.name == user_name).returning(GdUser.id)
        if not rows:
            raise not_found("用户", "user", user_name)
        await GdToken.update({GdToken.revoked: True}).where(
            (GdToken.user_id == rows[0]["id"]) & (GdToken.label == LOGIN_LABEL)
            & (GdToken.revoked == False)  # noqa: E712
        )


async def ensure_password(user_name: str) -> str | None:
    """Give a user without a password a random one and return it; None when one is set."""
    rows = await GdUser.select(GdUser.password_hash).where(GdUser.name == user_name)
    if not rows:
        raise not_found("用户", "user", user_name)
    if rows[0]["password_hash"]:
        return None
    password = secrets.token_urlsafe(9)
    await set_password(user_name, password)
    return password


async def change_own_password(user: CurrentUser, old_password: str, password: str, *,
                              max_failures: int = 5, window: float = 300.0) -> None:
    """A user replaces their own password; the old one must match (403 otherwise). Wrong
    old passwords count against the user name like failed sign-ins (429 past the limit),
    so a stolen session cannot guess the password without end."""
    key = ("user", user.name.strip().lower())
    stamp = LOGIN_LIMITER.attempt([(key, max_failures)], [key], window)
    rows = await GdUser.select(GdUser.password_hash).where(GdUser.id == user.id)
    stored = rows[0]["password_hash"] if rows else ""
    if not await asyncio.to_thread(verify_password, old_password, stored or _DUMMY_HASH) or not stored:
        raise ApiError(
            403, "原密码不正确", "the old password is wrong",
            [FieldError(key="old_password", message_zh="原密码不正确",
                        message_en="wrong password")],
        )
    LOGIN_LIMITER.succeeded(key, [key], stamp)
    await set_password(user.name, password)


class LoginLimiter:
    """Failed sign-ins counted per user name and per client address, in this process:
    past its limit within `window` seconds, that name or address gets 429 until the oldest
    counted failure leaves the window. A success clears the user name's count.

    An attempt is counted *before* the password is checked (`attempt`) and taken back on
    success (`succeeded`), so guesses sent all at once cannot pass the check together."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float, window: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def _evict(self, now: float, window: float) -> None:
        """Past MAX_KEYS: forget keys with nothing left in the window, then those with the
        fewest recent failures, down to 90% of MAX_KEYS (so this runs seldom). A locked-out
        name keeps its count: wiping the table, or dropping the oldest keys, would let an
        attacker lift a lock-out by filling it with fresh addresses."""
        if len(self._failures) <= self.MAX_KEYS:
            return
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - window]:
            del self._failures[key]
        keep = int(self.MAX_KEYS * 0.9)
        if len(self._failures) > keep:
            ranked = sorted(self._failures, key=lambda k: (len(self._failures[k]),
                                                           self._failures[k][-1]))
            for key in ranked[:len(self._failures) - keep]:
                del self._failures[key]

    def attempt(self, limits: list[tuple[tuple[str, str], int]], keys: list[tuple[str, str]],
                window: float) -> float:
        """Check `limits` and count an attempt against `keys` in one step (429 when over
        the limit); returns the attempt's stamp for `succeeded`."""
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            for key, allowed in limits:
                times = self._recent(key, now, window)
                if allowed > 0 and len(times) >= allowed:
                    wait = max(wait, times[-allowed] + window - now)
            if wait > 0:
                seconds = int(wait) + 1
                raise ApiError(
                    429,
                    f"登录失败次数过多，请 {seconds} 秒后再试",
                    f"too many failed sign-ins; try again in {seconds} s",
                    data={"retry_after": seconds},
                )
            self._evict(now, window)
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
        return now

    def succeeded(self, key: tuple[str, str], counted: list[tuple[str, str]] | None = None,
                  stamp: float | None = None) -> None:
        """Clear `key` (the user name); take back the attempt `stamp` counted on the
        other `counted` keys (the address)."""
        with self._lock:
            self._failures.pop(key, None)
            if stamp is None:
                return
            for other in counted or []:
                times = self._failures.get(other)
                if times is not None and stamp in times:
                    times.remove(stamp)


LOGIN_LIMITER = LoginLimiter()
IP_FACTOR = 4  # failures allowed per address = 4 x those per user name


def bad_login() -> ApiError:
    """The one answer to a wrong user name or password (it does not say which)."""
    return ApiError(401, "用户名或密码错误", "wrong user name or password")


async def login(name: str, password: str, client: str, *, token_hours: float,
                max_failures: int, window: float) -> dict[str, Any]:
    """A new expiring token for a user name and password; 401 when they do not match,
    429 when this name or address failed too often."""
    keys = [("user", name.strip().lower()), ("ip", client)]
    # an address may fail more often than one name: people behind one proxy share it
    limits = [(keys[0], max_failures), (keys[1], max_failures * IP_FACTOR)]
    # counted as failed before anything is awaited, taken back on success
    stamp = LOGIN_LIMITER.attempt(limits, keys, window)
    rows = await GdUser.select(GdUser.id, GdUser.name, GdUser.role, GdUser.password_hash,
                               GdUser.active).where(GdUser.name == name.strip())
    user = rows[0] if rows else None
    stored = user["password_hash"] if user and user["active"] else ""
    ok = await asyncio.to_thread(verify_password, password, stored or _DUMMY_HASH) and bool(stored)
    if not ok or user is None:
        raise bad_login()
    LOGIN_LIMITER.succeeded(keys[0], keys[1:], stamp)
    expires = _now() + dt.timedelta(hours=token_hours)
    token = await create_token(user["name"], LOGIN_LABEL, expires_at=expires)
    return {"token": token, "user": user["name"], "role": user["role"],
            "expires_at": expires.isoformat()}


def forbidden(role: str, allowed: tuple[str, ...]) -> ApiError:
    """403 naming the caller's role and the roles that may."""
    return ApiError(
        403,
        f"角色 {role} 无权执行此操作（允许：{'、'.join(allowed)}）",
        f"role {role} may not do this (allowed: {', '.join(allowed)})",
    )
