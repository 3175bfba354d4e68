"""The public types a connector plugin uses: messages, receipts, errors, settings.

A connector delivers one :class:`OutgoingMessage` through one channel (a webhook, a WeCom
robot, an SMS gateway...) and answers with a :class:`DeliveryReceipt`, or raises
:class:`RetryableDeliveryError` (try again later: rate limit, 5xx, time-out) or
:class:`PermanentDeliveryError` (retrying cannot help: bad key, bad recipient).

Connectors are **synchronous** on purpose: most providers' SDKs and the standard
library's ``smtplib`` are blocking, and the outbox worker runs each ``send`` in a worker
thread (``anyio.to_thread.run_sync``), so a slow provider never blocks the event loop.
A connector owns one ``httpx.Client`` (connection pooling) and must be safe to call from
one thread at a time; the worker keeps one instance per thread or serialises calls.

Settings are declared per plugin with :class:`Setting`. Secrets are read **only** from
environment variables (``GONGDAN_<PLUGIN>_<NAME>``, e.g. ``GONGDAN_WECOM_SECRET``), held
in :class:`Secret` (whose ``repr``/``str`` is redacted) and never written to the database
or to logs: :func:`install_log_redaction` scrubs them (and well-known credential query
parameters such as ``key=`` or ``access_token=``) from the records of ``httpx`` and
``gongdan`` loggers.

Only this module, :mod:`gongdan.hookspecs` and :mod:`gongdan.plugins` are the plugin API;
plugins import nothing else from ``gongdan``.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import httpx
import msgspec

__all__ = [
    "REDACTED",
    "Connector",
    "ConnectorProtocol",
    "DeliveryError",
    "DeliveryReceipt",
    "OutgoingMessage",
    "PermanentDeliveryError",
    "RateLimiter",
    "RetryableDeliveryError",
    "Secret",
    "Setting",
    "Settings",
    "SettingsError",
    "env_var_name",
    "install_log_redaction",
    "load_settings",
    "parse_retry_after",
    "raise_for_http_status",
    "redact",
    "translate_transport_errors",
    "truncate_utf8",
]

REDACTED = "**********"


# ---------------------------------------------------------------------------
# messages and receipts


class OutgoingMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message to deliver through one channel.

    ``to`` is the channel's own address: a URL or robot name for webhooks and robots, a
    user id (``张三|李四`` for WeCom), a phone number for SMS and voice, an e-mail address.
    An empty ``to`` means the connector's configured default target (a group robot's
    group). ``idempotency_key`` is stable across retries of the same delivery (the outbox
    row id); connectors pass it to the provider where the provider de-duplicates or
    echoes it (``webhook-id``, Aliyun ``OutId``, e-mail ``Message-ID``). ``extra`` holds
    channel-specific fields (``template_param`` for SMS, ``mentioned_mobile_list`` for
    WeCom...), each documented by its connector in ``docs/plugins.md``.

    It is a msgspec Struct so the outbox can store it as JSON and decode it back:
    ``msgspec.json.decode(raw, type=OutgoingMessage)``.
    """

    channel: str
    to: str = ""
    text: str
    subject: str = ""
    markdown: bool = False
    idempotency_key: str
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class DeliveryReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """What the provider said when it accepted a message.

    ``provider_message_id`` is the provider's id for the delivery where it returns one
    (WeCom ``msgid``, Aliyun ``BizId``/``CallId``, the e-mail ``Message-ID``), else None.
    ``detail`` keeps a small, secret-free summary of the answer for the audit trail.
    """

    channel: str
    provider_message_id: str | None = None
    accepted_at: datetime = msgspec.field(default_factory=lambda: datetime.now(UTC))
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class DeliveryError(Exception):
    """A delivery failed; ``provider_code`` is the provider's own error code, if any."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, provider_code: str | int | None = None) -> None:
        super().__init__(message)
        self.provider_code = provider_code


class RetryableDeliveryError(DeliveryError):
    """Try again later (rate limit, 5xx, time-out, connection refused).

    ``retry_after`` is the delay in seconds the provider asked for, when it said so;
    the outbox uses it instead of its own back-off when it is longer.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider_code: str | int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider_code=provider_code)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (bad key or signature, unknown recipient, content refused).

    The outbox moves the row to its dead-letter state at once.
    """


# ---------------------------------------------------------------------------
# settings and secrets


class Secret:
    """A secret value whose ``repr`` and ``str`` never show it; call :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        _remember_secret(value)

    def reveal(self) -> str:
        """The clear value: pass it to the provider and nowhere else."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


class SettingsError(ValueError):
    """A required setting is missing or a value is malformed."""


@dataclass(frozen=True)
class Setting:
    """One setting a plugin declares.

    Its environment variable is ``GONGDAN_<PREFIX>_<NAME>`` (upper case), e.g. the
    ``secret`` setting of the ``wecom`` plugin is ``GONGDAN_WECOM_SECRET``. A ``secret``
    setting is only ever read from the environment and comes back as a :class:`Secret`.
    """

    name: str
    help: str
    secret: bool = False
    required: bool = False
    default: str | None = None


def env_var_name(prefix: str, name: str) -> str:
    """``env_var_name("wecom", "corp_secret")`` -> ``"GONGDAN_WECOM_CORP_SECRET"``."""
    return f"GONGDAN_{prefix}_{name}".upper().replace("-", "_")


@dataclass(frozen=True)
class Settings(Mapping[str, "str | Secret | None"]):
    """A plugin's resolved settings; secrets stay :class:`Secret`, redacted in ``repr``."""

    prefix: str
    data: Mapping[str, str | Secret | None] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str | Secret | None:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def get_str(self, key: str, default: str = "") -> str:
        """A non-secret setting as text (``default`` when unset)."""
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, Secret):
            raise SettingsError(f"{key} is a secret: use get_secret()")
        return value

    def get_secret(self, key: str) -> str:
        """A secret setting's clear value ("" when unset). Do not log it."""
        value = self.data.get(key)
        if value is None:
            return ""
        return value.reveal() if isinstance(value, Secret) else value

    def get_float(self, key: str, default: float) -> float:
        """A non-secret number setting (``default`` when unset or not declared)."""
        raw = self.get_str(key)
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(
                f"{env_var_name(self.prefix, key)} must be a number, not {raw!r}"
            ) from None

    def __repr__(self) -> str:
        shown = {k: (REDACTED if isinstance(v, Secret) else v) for k, v in self.data.items()}
        return f"Settings(prefix={self.prefix!r}, data={shown!r})"

    __str__ = __repr__


def load_settings(
    prefix: str,
    declared: Iterable[Setting],
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve ``declared`` settings from the environment (and ``overrides``).

    ``overrides`` (e.g. from a configuration file or the database) may set non-secret
    settings only: a secret passed there raises :class:`SettingsError`, so a secret can
    never end up stored in clear next to the configuration. Missing required settings
    raise :class:`SettingsError` naming the environment variables to set.
    """
    env = os.environ if environ is None else environ
    overrides = overrides or {}
    declared = list(declared)
    known = {s.name for s in declared}
    unknown = set(overrides) - known
    if unknown:
        raise SettingsError(f"unknown {prefix} settings: {', '.join(sorted(unknown))}")
    values: dict[str, str | Secret | None] = {}
    missing: list[str] = []
    for setting in declared:
        var = env_var_name(prefix, setting.name)
        if setting.secret:
            if setting.name in overrides:
                raise SettingsError(
                    f"{prefix}.{setting.name} is a secret: set it in the environment ({var})"
                )
            raw = env.get(var)
            value: str | Secret | None = Secret(raw) if raw else None
        else:
            raw = overrides.get(setting.name, env.get(var))
            value = raw if raw not in (None, "") else setting.default
        if setting.required and value is None:
            missing.append(var)
        values[setting.name] = value
    if missing:
        raise SettingsError(f"{prefix}: set {', '.join(missing)}")
    return Settings(prefix=prefix, data=values)


# ---------------------------------------------------------------------------
# redaction

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
# query parameters that carry credentials in the providers' URLs
_CREDENTIAL_PARAMS = re.compile(
    r"(?i)\b(key|access_token|corpsecret|secret|sign|signature|accesskeyid|token)=([^&\s\"']+)"
)


def _remember_secret(value: str) -> None:
    # short values would redact ordinary words; real credentials are longer
    if len(value) >= 6:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret and credential query parameter replaced."""
    text = _CREDENTIAL_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _RedactingFilter()


_REDACTED_TREES: set[str] = set()
_FACTORY_LOCK = threading.Lock()
_factory_installed = False


def install_log_redaction(loggers: Iterable[str] = ("httpx", "httpcore", "gongdan")) -> None:
    """Scrub secrets from the records of these loggers and all their children (idempotent;
    the plugin manager calls it).

    httpx logs every request URL at INFO, and WeCom's robot key, DingTalk's
    ``access_token`` and Aliyun's signature travel in the URL. A logger's own filters do not
    see records from its children (``gongdan.x``), so the scrubbing happens when a record is
    created, through the log-record factory.
    """
    global _factory_installed
    with _FACTORY_LOCK:
        for name in loggers:
            _REDACTED_TREES.add(name)
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            root = record.name.split(".", 1)[0]
            if root in _REDACTED_TREES or record.name in _REDACTED_TREES:
                _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


# ---------------------------------------------------------------------------
# helpers shared by the connectors


def truncate_utf8(text: str, limit: int, marker: str = "…") -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character, ending
    with ``marker`` when cut (providers count bytes: WeCom's text is 2048 at most)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = limit - len(marker.encode())
    return data[:max(room, 0)].decode(errors="ignore") + marker



def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_RETRYABLE_STATUS = frozenset({408, 425, 429})


def raise_for_http_status(response: httpx.Response, *, channel: str) -> None:
    """Raise the matching delivery error for a non-2xx answer; return on 2xx.

    408, 425, 429 and 5xx are retryable (honouring ``Retry-After``); any other status
    is permanent (the request itself is wrong: 400, 401, 403, 404, 410...).
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    what = f"{channel}: HTTP {status}"
    if status in _RETRYABLE_STATUS or status >= 500:
        raise RetryableDeliveryError(
            what,
            provider_code=status,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    raise PermanentDeliveryError(what, provider_code=status)


@contextlib.contextmanager
def translate_transport_errors(channel: str) -> Iterator[None]:
    """Turn httpx's time-outs and connection errors into :class:`RetryableDeliveryError`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise RetryableDeliveryError(f"{channel}: timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        detail = f"{type(exc).__name__}: {redact(str(exc))}"
        raise RetryableDeliveryError(f"{channel}: {detail}") from exc


class RateLimiter:
    """At most ``limit`` sends per ``period`` seconds for one key, across threads.

    Group robots punish bursts (DingTalk silences a robot for 10 minutes after more than
    20 messages in a minute), so connectors ask first and, when the window is full,
    raise :class:`RetryableDeliveryError` with the wait instead of calling the provider.
    Limiters are shared per key (``RateLimiter.shared``), because the outbox builds one
    connector instance per thread.
    """

    _registry: ClassVar[dict[str, RateLimiter]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, limit: int, period: float, clock: Callable[[], float] | None = None):
        self.limit = limit
        self.period = period
        self._clock = clock or time.monotonic
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, key: str, limit: int, period: float) -> RateLimiter:
        """The process-wide limiter for ``key`` (a channel plus a hash of its target)."""
        with cls._registry_lock:
            limiter = cls._registry.get(key)
            if limiter is None or (limiter.limit, limiter.period) != (limit, period):
                limiter = cls._registry[key] = cls(limit, period)
            return limiter

    @classmethod
    def reset_all(cls) -> None:
        """Forget every shared limiter (tests; a configuration reload)."""
        with cls._registry_lock:
            cls._registry.clear()

    def acquire(self, channel: str) -> None:
        """Take a slot, or raise :class:`RetryableDeliveryError` saying when one frees."""
        if self.limit <= 0:
            return
        with self._lock:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self.period:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                wait = self._sent[0] + self.period - now
                raise RetryableDeliveryError(
                    f"{channel}: local rate limit ({self.limit} per {self.period:.0f}s)",
                    provider_code="local-rate-limit",
                    retry_after=max(wait, 0.001),
                )
            self._sent.append(now)


# ---------------------------------------------------------------------------
# the connector contract


@runtime_checkable
class ConnectorProtocol(Protocol):
    """What the outbox needs from a connector instance."""

    name: ClassVar[str]

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Deliver one message, or raise a :class:`DeliveryError` subclass."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Connector:
    """A convenient base for connectors: settings from the environment, one HTTP client.

    Subclasses set ``name`` (the channel name used by rules: ``via wecom``), ``settings``
    (their :class:`Setting` declarations; the environment prefix is ``name`` unless
    ``settings_prefix`` says otherwise) and implement :meth:`send`. ``register_connectors``
    returns the classes; the platform builds each with :meth:`from_env`.

    ``address_kind`` says what a message's ``to`` must be for this channel: ``phone``,
    ``email``, ``wecom_userid``, ``dingtalk_userid`` (the outbox resolves ``supervisor``,
    ``role:X``, a user name... to those from the roster and user profiles when it writes
    the message), or "" for channels that address no person (group robots, webhooks).
    """

    name: ClassVar[str]
    address_kind: ClassVar[str] = ""
    settings: ClassVar[tuple[Setting, ...]] = ()
    settings_prefix: ClassVar[str | None] = None
    #: seconds for connect/read/write; override with the ``timeout`` setting if declared
    default_timeout: ClassVar[float] = 10.0

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None) -> None:
        self.config = settings
        self._client = client
        self._own_client = client is None
        install_log_redaction()

    @property
    def client(self) -> httpx.Client:
        """The HTTP client, created on first use (an SMTP connector never creates one)."""
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.config.get_float("timeout", self.default_timeout),
                headers={"user-agent": "gongdan"},
            )
        return self._client

    @classmethod
    def prefix(cls) -> str:
        """The environment prefix: ``GONGDAN_<PREFIX>_...``."""
        return cls.settings_prefix or cls.name

    @classmethod
    def from_env(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> Self:
        """Build the connector from ``GONGDAN_<PREFIX>_*`` environment variables."""
        return cls(
            load_settings(cls.prefix(), cls.settings, environ=environ, overrides=overrides),
            client=client,
        )

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Deliver one message, or raise a :class:`DeliveryError` subclass."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the HTTP client if this connector created it."""
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.config!r}>"
