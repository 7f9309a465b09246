"""Redaction and URL resolution: no password may survive into output."""

from __future__ import annotations

import pytest

from pgconsolidate.config import redact_text, redact_url, resolve_url, url_password
from pgconsolidate.errors import UsageError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://default:s3cret@h:6379/2", "redis://default:***@h:6379/2"),
        ("postgresql://app:p%40ss@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("postgresql://db/app?user=u&password=hunter2", "postgresql://db/app?user=u&password=***"),
        ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_scrubs_urls_pairs_and_explicit_secrets() -> None:
    msg = (
        'connection to "postgresql://u:topsecret@h/db" failed; password=topsecret '
        "dsn host=h password='x y' user=u; raw token zzz-secret-zzz"
    )
    out = redact_text(msg, "zzz-secret-zzz")
    assert "topsecret" not in out
    assert "x y" not in out
    assert "zzz-secret-zzz" not in out
    assert "postgresql://u:***@h/db" in out


def test_url_password() -> None:
    assert url_password("redis://:pw1@h:1/0") == "pw1"
    assert url_password("postgresql://h/db?password=pw2") == "pw2"
    assert url_password("postgresql://h/db") is None


def test_resolve_url_prefers_flag_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGC_TEST_URL", "redis://env")
    assert resolve_url("redis://flag", "PGC_TEST_URL", what="Redis") == "redis://flag"
    assert resolve_url(None, "PGC_TEST_URL", what="Redis") == "redis://env"
    monkeypatch.delenv("PGC_TEST_URL")
    assert resolve_url(None, "PGC_TEST_URL", what="Redis", required=False) is None
    with pytest.raises(UsageError, match="no Redis URL given"):
        resolve_url(None, "PGC_TEST_URL", what="Redis")
