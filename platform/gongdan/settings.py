"""Settings: every `GONGDAN_*` environment variable, read into one typed object.

Each setting carries its help text; `docs/settings.md` must list every one of them
(`tests/platform/test_settings_docs.py` fails otherwise).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "GONGDAN_"


def setting(default: Any, help: str) -> Any:
    """A settings field with its help text (shown in docs and `gongdan serve --help`)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    """The server's settings; build one with `Settings.from_env()`."""

    database_url: str = setting(
        "sqlite:///./gongdan.db",
        "数据库地址 / database URL: `sqlite:///PATH` (one machine) or "
        "`postgresql://USER@HOST:PORT/DB` (production).",
    )
    host: str = setting("127.0.0.1", "监听地址 / address `gongdan serve` binds to.")
    port: int = setting(8000, "监听端口 / port `gongdan serve` listens on.")
    workers: int = setting(1, "工作进程数 / number of server processes (uvicorn workers).")
    auto_migrate: bool = setting(
        True, "启动时执行数据库迁移 / run database migrations when the server starts."
    )
    timezone: str = setting(
        "Asia/Shanghai",
        "业务时区 / business time zone: ticket numbers count per day in this zone and "
        "timestamps are shown in it (IANA name).",
    )
    pg_pool_min: int = setting(2, "PostgreSQL 连接池最小连接数 / minimum pooled connections.")
    pg_pool_max: int = setting(10, "PostgreSQL 连接池最大连接数 / maximum pooled connections.")
    sqlite_timeout: float = setting(
        30.0,
        "SQLite 等待写锁的秒数 / seconds a SQLite writer waits for the lock before failing.",
    )
    idempotency_ttl_hours: float = setting(
        24.0,
        "幂等键有效小时数 / hours an `Idempotency-Key` of `POST .../tickets` is remembered; "
        "after that the same key creates a new ticket.",
    )
    token_cache_seconds: float = setting(
        10.0,
        "令牌缓存秒数 / seconds a verified API token is cached in a process; a revoked "
        "token stops working after at most this long (0 disables the cache).",
    )
    login_token_hours: float = setting(
        12.0,
        "登录令牌有效小时数 / hours a token issued by `POST /api/login` (user name and "
        "password) stays valid.",
    )
    login_max_failures: int = setting(
        5,
        "登录失败上限 / failed sign-ins allowed per user name (4 times as many per client "
        "address) within GONGDAN_LOGIN_LOCK_SECONDS before further attempts get 429.",
    )
    login_lock_seconds: float = setting(
        300.0,
        "登录限流窗口秒数 / the window (seconds) in which failed sign-ins are counted, and "
        "how long a limited user name or address waits.",
    )
    admin_ui_dir: str = setting(
        "",
        "管理界面构建目录 / folder of the admin UI build served at `/admin` "
        "(empty: the repository's `admin-ui/dist`, built by `make run` and `make test`).",
    )
    templates_dir: str = setting(
        "",
        "消息模板覆盖目录 / folder of `<name>.j2` files that override message templates (empty: none).",
    )
    background: bool = setting(
        True,
        "后台任务 / run the timer scheduler and the outbox worker inside the server process "
        "(turn off only for tests or a process that should serve requests only).",
    )
    timer_interval: float = setting(
        0.2, "定时器轮询间隔秒数 / seconds between two scheduler ticks when nothing is due."
    )
    timer_batch: int = setting(200, "每次轮询最多触发的定时器数 / timers fired per tick at most.")
    timer_channel: str = setting(
        "log",
        "定时器通知渠道 / channel for SLA warnings and breach escalations (the rules name no "
        "channel for them): `log`, `wecom`, `sms`...",
    )
    sla_warn_share: float = setting(
        0.8, "SLA 预警比例 / share of the respond/resolve time at which the warning fires."
    )
    location_reroute_km: float = setting(
        1.0,
        "位置重新派单距离 / an app location update routes the waiting queues again when the "
        "engineer moved more than this many km since the last such re-route.",
    )
    location_reroute_minutes: float = setting(
        10.0,
        "位置重新派单间隔 / ... or when the last such re-route is older than this many minutes.",
    )
    public_url: str = setting(
        "http://127.0.0.1:8000",
        "对外地址 / the server's public base URL, used in the links messages carry (the "
        "ticket's `link`, the tokenised survey link).",
    )
    outbox_interval: float = setting(
        0.5, "发件箱轮询间隔秒数 / seconds between two outbox polls when nothing is due."
    )
    outbox_batch: int = setting(50, "每次投递的消息数 / outbox messages claimed per poll at most.")
    outbox_max_attempts: int = setting(
        8, "最多投递次数 / delivery attempts before a message is dead-lettered."
    )
    outbox_backoff_base: float = setting(
        5.0, "重试基准秒数 / first retry delay in seconds; doubles per attempt, with jitter."
    )
    outbox_backoff_max: float = setting(
        3600.0, "最长重试间隔秒数 / longest delay between two attempts, in seconds."
    )
    outbox_lease: float = setting(
        300.0,
        "投递租期秒数 / seconds a claimed message stays claimed; a process that dies while "
        "sending leaves it to be retried after this.",
    )
    lease_ttl: float = setting(
        15.0,
        "SQLite 上后台任务租约的秒数：只有持有租约的进程运行定时器调度和发件箱投递，它停止续约"
        "（进程死亡）这么久后由另一个进程接手 / seconds of the background lease on SQLite: only "
        "the process holding it runs the timer scheduler and the outbox worker; another takes "
        "over this long after the holder stops renewing it (dies).",
    )
    notify_calendar: str = setting(
        "",
        "只在工作时间内发送通知：日历名（如 `工作日`），或按业务线 `repair=工作日,*=客服班次`；为空时随时发送"
        " / notify only within working hours: a calendar name (e.g. `工作日`), or per line "
        "`repair=工作日,*=客服班次`; empty sends at any hour.",
    )
    notify_calendar_channels: str = setting(
        "",
        "受“只在工作时间内发送”约束的渠道，逗号分隔（如 `sms,voice`）；为空时所有渠道 / channels the "
        "working-hours rule applies to, comma-separated (e.g. `sms,voice`); empty means all.",
    )
    notify_urgent_tiers: str = setting(
        "P0",
        "这些等级工单的升级消息不受工作时间限制，随时发送；逗号分隔 / tiers whose escalations are "
        "sent at any hour, whatever the working-hours rule; comma-separated.",
    )
    outbox_fallback_channel: str = setting(
        "",
        "后备渠道 / channel used for messages whose channel has no configured connector "
        "(e.g. `log` on a demo machine without provider credentials; empty: none, such "
        "messages are dead-lettered).",
    )
    clock_file: str = setting(
        "",
        "测试时钟文件 / test hook: a file holding an offset in seconds added to the server's "
        "clock, re-read every tick (empty: the real clock). Never set it in production.",
    )
    log_level: str = setting(
        "info", "服务日志级别 / the server's (uvicorn) log level: debug, info, warning, error."
    )
    debug: bool = setting(False, "调试模式 / debug mode: tracebacks in 500 responses.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read `GONGDAN_<NAME>` for each field; `overrides` win over the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, raw, type(f.default))
        values.update(overrides)
        return cls(**values)

    @property
    def is_postgres(self) -> bool:
        """True when the database URL names PostgreSQL."""
        return self.database_url.startswith(("postgresql://", "postgres://"))

    def as_env(self) -> dict[str, str]:
        """These settings as `GONGDAN_*` variables (handed to worker processes)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[PREFIX + f.name.upper()] = (
                ("true" if value else "false") if isinstance(value, bool) else str(value)
            )
        return out


def describe() -> list[tuple[str, Any, str]]:
    """(environment variable, default, help) for every setting, in declaration order."""
    return [
        (PREFIX + f.name.upper(), f.default, f.metadata["help"])
        for f in dataclasses.fields(Settings)
    ]


def _coerce(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError as exc:
        raise ValueError(
            f"设置 {PREFIX}{name.upper()} 的值无效 / invalid value for "
            f"{PREFIX}{name.upper()}: {raw!r}"
        ) from exc
