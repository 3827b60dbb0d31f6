"""The one settings class: environment variables read once, unsafe values refused at start."""

from __future__ import annotations

import base64
import ipaddress
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from limits import parse as parse_limit
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEBHOOK_URL_MAX_LENGTH = 2048
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a password)
RATE_LIMIT_STORAGES = frozenset({"memory", "redis", "rediss", "redis+unix"})
"""The `limits` storages the limits may count in: this process's memory, or a Redis (its async
client: the `limits[async-redis]` extra)."""


def is_webhook_secret(value: str) -> bool:
    """A Standard Webhooks secret: `whsec_` and 24 to 64 random bytes in base64."""
    if not value.startswith(WEBHOOK_SECRET_PREFIX):
        return False
    encoded = value.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:
        return False
    return 24 <= len(key) <= 64


def _origin(value: str) -> str:
    """`value` as a browser writes it in Origin (lower case, no default port), or ValueError."""
    problem = (
        f"ROLLCALL_ALLOWED_ORIGINS: {value!r} is not an origin such as https://app.example or"
        " http://127.0.0.1:8080 (http or https, a host, an optional port; no path, no *)"
    )
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(problem) from exc
    scheme = parts.scheme.lower()
    if (
        scheme not in ("http", "https")
        or not parts.hostname
        or "*" in value
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(problem)
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("rollcall"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    public_url: str | None = None
    workers: int | None = Field(default=None, ge=1, le=1024)
    """Processes of `rollcall serve` (its --workers); None: one per core."""
    heartbeat_interval_s: float = Field(default=10.0, gt=0, le=3600)
    presence_timeout_s: float = Field(default=30.0, gt=0, le=86400)
    heartbeat_flush_s: float = Field(default=1.0, gt=0, le=60)
    receipt_flush_s: float = Field(default=0.5, gt=0, le=60)
    """How often each process writes the receipts (`seen`) it has buffered, in one statement."""
    gc_freeze: bool = True
    """After start-up, freeze what is alive and collect garbage less often (rollcall.gctune)."""
    presence_sweep_s: float = Field(default=1.0, gt=0, le=60)
    max_capacity: int = Field(default=10_000, ge=1, le=1_000_000)
    admin_token: str | None = None
    event_log_retention: int = Field(default=10_000, ge=100)
    max_sockets: int = Field(default=100_000, ge=1)
    max_sockets_per_address: int = Field(default=10_000, ge=1)
    max_host_sockets_per_event: int = Field(default=20, ge=1, le=10_000)
    """Host sockets of one event on one process; each welcome carries the whole roster."""
    trusted_proxies: str = "127.0.0.1,::1"
    allowed_origins: str = ""
    """Origins of other sites' apps that may use the API and /ws (comma-separated); see cors.py."""
    """Peers whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses, networks, or *."""
    event_idle_hours: float = Field(default=24.0, ge=1, le=24 * 365)
    event_retention_days: float = Field(default=30.0, ge=1, le=365 * 100)
    retention_sweep_s: float = Field(default=600.0, gt=0, le=86400)
    room_check_s: float = Field(default=30.0, ge=5, le=3600)
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """How long a request's header block may take to arrive, from its first byte (or from the
    connection, for its first request); then the connection is closed."""
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """How long a request's body may take to arrive once its headers have: then 408."""
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    """The most a request's target and header fields may hold together: beyond it, 431."""
    keep_alive_timeout_s: float = Field(default=5.0, gt=0, le=300)
    """How long an idle connection is kept open for its next request."""
    limit_joins: str = "600/minute"
    limit_events: str = "30/minute"
    limit_guesses: str = "30/minute"
    limit_ws_messages: str = "20/second"
    limit_actions: str = "10/second"
    """Actions one participant may send (over HTTP and /ws together)."""
    rate_limit_storage: str = "memory://"
    """Where the limits count: this process's memory, or a `limits` storage URI (redis://…)
    that every process of a fleet shares."""
    metrics_token: SecretStr | None = None
    webhook_url: str | None = Field(default=None, max_length=WEBHOOK_URL_MAX_LENGTH)
    webhook_secret: SecretStr | None = None
    webhook_allow_private: bool = False
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_base_s: float = Field(default=5.0, gt=0, le=3600)
    webhook_retry_max_s: float = Field(default=3600.0, gt=0, le=86400)
    webhook_retry_for_s: float = Field(default=86400.0, gt=0)

    @field_validator(
        "limit_joins", "limit_events", "limit_guesses", "limit_ws_messages", "limit_actions"
    )
    @classmethod
    def _limit_notation(cls, value: str) -> str:
        """One limit in the `limits` notation ("600/minute", "20/second")."""
        try:
            amount = parse_limit(value).amount
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a limit such as '600/minute'") from exc
        if amount < 1:
            raise ValueError(f"{value!r} allows nothing; a limit allows at least 1")
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage_is_known(cls, value: str) -> str:
        """memory://, or a Redis URI as `limits` reads it (redis://[:password@]host:port[/db])."""
        scheme, separator, _ = value.strip().partition("://")
        if not separator or scheme.lower() not in RATE_LIMIT_STORAGES:
            shown = value.rpartition("@")[2]  # never a password in the message
            raise ValueError(
                f"ROLLCALL_RATE_LIMIT_STORAGE: {shown!r} is not memory:// or a Redis URI such as"
                " redis://10.0.0.7:6379 (also rediss:// and redis+unix://)"
            )
        return "memory://" if scheme.lower() == "memory" else value.strip()

    @field_validator(
        "database_url",
        "public_url",
        "admin_token",
        "metrics_token",
        "webhook_url",
        "webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_is_postgres(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql:// or postgres://")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("ROLLCALL_PUBLIC_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_addresses(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"ROLLCALL_TRUSTED_PROXIES: {item!r} is not an IP address or network"
                    " (a comma-separated list, or * for any peer)"
                ) from exc
        return ",".join(items)

    @field_validator("allowed_origins")
    @classmethod
    def _allowed_origins_are_origins(cls, value: str) -> str:
        """Each one a browser's Origin (scheme, host, optional port), written as it sends it."""
        return ",".join(_origin(item.strip()) for item in value.split(",") if item.strip())

    @field_validator("admin_token")
    @classmethod
    def _admin_token_is_strong(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("ROLLCALL_ADMIN_TOKEN must be at least 16 characters")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_is_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("ROLLCALL_METRICS_TOKEN must be at least 16 characters")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("ROLLCALL_WEBHOOK_URL must start with http:// or https://")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_is_whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not is_webhook_secret(value.get_secret_value()):
            raise ValueError(
                "ROLLCALL_WEBHOOK_SECRET must be whsec_ followed by 24 to 64 bytes in base64"
            )
        return value

    @model_validator(mode="after")
    def _webhook_has_a_secret(self) -> Settings:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError(
                "ROLLCALL_WEBHOOK_URL and ROLLCALL_WEBHOOK_SECRET go together: set both or neither"
            )
        if self.webhook_retry_max_s < self.webhook_retry_base_s:
            raise ValueError(
                "ROLLCALL_WEBHOOK_RETRY_MAX_S must be at least ROLLCALL_WEBHOOK_RETRY_BASE_S"
            )
        return self

    @model_validator(mode="after")
    def _timeout_outlasts_heartbeat(self) -> Settings:
        if self.presence_timeout_s <= self.heartbeat_interval_s + self.heartbeat_flush_s:
            raise ValueError(
                "ROLLCALL_PRESENCE_TIMEOUT_S must be longer than ROLLCALL_HEARTBEAT_INTERVAL_S"
                " plus ROLLCALL_HEARTBEAT_FLUSH_S, or participants would flicker offline between"
                " two heartbeats"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
