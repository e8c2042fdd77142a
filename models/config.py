"""Typed settings, read from NODEDESK_* environment variables and an optional .env file."""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.rules.worktime import parse_office_hours

TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]{4,}$")
SECRET_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class Mode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class Language(StrEnum):
    ZH_CN = "zh_CN"
    EN = "en"


class Settings(BaseSettings):
    """Everything Nodedesk reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="NODEDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    token: SecretStr | None = Field(default=None, description="Bot token from @BotFather")
    database_url: str = Field(
        default="sqlite+aiosqlite:///nodedesk.sqlite3", description="SQLAlchemy async URL"
    )
    timezone: str = Field(default="Asia/Shanghai", description="IANA time zone of the county")
    office_hours: str = Field(
        default="08:30-12:00,14:30-17:30",
        description="Office hours in the county's zone: HH:MM-HH:MM sessions, comma-separated",
    )
    language: Language = Field(default=Language.ZH_CN, description="Language of messages")
    admin_ids: list[int] = Field(
        default_factory=list, description="Telegram user ids that are admins from the start"
    )
    mode: Mode = Field(default=Mode.POLLING, description="polling or webhook")
    webhook_url: str | None = Field(default=None, description="Public HTTPS URL of the webhook")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Secret token Telegram sends in its header"
    )
    listen: str = Field(default="127.0.0.1:8443", description="host:port the web server binds")
    api_base_url: str = Field(
        default="https://api.telegram.org/bot", description="Bot API base URL (the sandbox's)"
    )
    api_base_file_url: str = Field(
        default="https://api.telegram.org/file/bot", description="Bot API file base URL"
    )
    outbox_interval: float = Field(default=1.0, gt=0, description="Seconds between outbox runs")
    sweep_interval: float = Field(default=30.0, gt=0, description="Seconds between sweeps")
    digest_time: str = Field(
        default="08:30",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="When leaders get the daily digest on working days, HH:MM in the county's zone",
    )
    clock_file: Path | None = Field(
        default=None,
        description="Tests only: read the time from this file (ISO 8601), not the system clock",
    )
    screen_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Access token of the big screen (/screen); unset, the page is off",
    )

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TOKEN_SHAPE.match(value.get_secret_value()):
            # The message must not echo the value: it is a secret.
            raise ValueError("does not look like a bot token (digits, a colon, then letters)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("office_hours")
    @classmethod
    def _office_hours(cls, value: str) -> str:
        parse_office_hours(value)  # its ValueError says what is wrong
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8443")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_TOKEN_SHAPE.match(value.get_secret_value()):
            raise ValueError("may hold only A-Z, a-z, 0-9, _ and -, 1 to 256 characters")
        return value

    @model_validator(mode="after")
    def _webhook_complete(self) -> Settings:
        if self.mode is Mode.WEBHOOK:
            if not self.webhook_url:
                raise ValueError("NODEDESK_WEBHOOK_URL is required when NODEDESK_MODE=webhook")
            if self.webhook_secret is None:
                raise ValueError("NODEDESK_WEBHOOK_SECRET is required when NODEDESK_MODE=webhook")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def digest_at(self) -> time:
        return time.fromisoformat(self.digest_time)

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "_".join(str(part) for part in first["loc"]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        # A check across settings (webhook mode) names the settings in its own message.
        raise SettingsError(f"NODEDESK_{where}: {message}" if where else message) from None
