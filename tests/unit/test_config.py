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
