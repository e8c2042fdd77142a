import os
from pathlib import Path

import pytest

from models.config import Mode, SettingsError, load_settings

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("NODEDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_need_nothing() -> None:
    settings = load_settings()
    assert settings.token is None
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.language == "zh_CN"
    assert settings.mode is Mode.POLLING
    assert settings.office_hours == "08:30-12:00,14:30-17:30"


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NODEDESK_LANGUAGE=en\n", encoding="utf-8")
    monkeypatch.setenv("NODEDESK_ADMIN_IDS", "[1, 2]")
    settings = load_settings()
    assert settings.language == "en"
    assert settings.admin_ids == [1, 2]


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("NODEDESK_TIMEZONE", "Mars/Olympus", "NODEDESK_TIMEZONE"),
        ("NODEDESK_LANGUAGE", "fr", "NODEDESK_LANGUAGE"),
        ("NODEDESK_DATABASE_URL", "mysql://x", "NODEDESK_DATABASE_URL"),
        ("NODEDESK_TOKEN", "not-a-token", "NODEDESK_TOKEN"),
        ("NODEDESK_LISTEN", "8443", "NODEDESK_LISTEN"),
        ("NODEDESK_OFFICE_HOURS", "08:30-12:00,11:00-17:30", "NODEDESK_OFFICE_HOURS"),
        ("NODEDESK_ADMIN_IDS", '["x"]', "NODEDESK_ADMIN_IDS"),
        ("NODEDESK_MODE", "webhook", "NODEDESK_WEBHOOK_URL"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_the_token_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODEDESK_TOKEN", "123:has spaces and secrets")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "secrets" not in str(caught.value)
    monkeypatch.setenv("NODEDESK_TOKEN", TOKEN)
    settings = load_settings()
    assert TOKEN not in repr(settings)


def test_summer_office_hours_are_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODEDESK_OFFICE_HOURS", "08:30-12:00,15:00-18:00")
    assert load_settings().office_hours == "08:30-12:00,15:00-18:00"


def test_malformed_office_hours_stop_the_program_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NODEDESK_OFFICE_HOURS", "8-12")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "NODEDESK_OFFICE_HOURS: '8-12' is not a session like 08:30-12:00; "
        "write the sessions as HH:MM-HH:MM separated by commas"
    )
