"""The embedded default target really starts PostgreSQL 18, survives re-use, and stops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgconsolidate.config import ENV_STATE_DIR
from pgconsolidate.embedded import (
    EMBEDDED_DATA_HELP,
    EMBEDDED_DIRNAME,
    embedded_data_dir,
    embedded_target_url,
    stop_embedded_target,
)
from pgconsolidate.errors import ConnectionFailed


@pytest.fixture
def pgdata(tmp_path: Path) -> Iterator[Path]:
    """A data folder for one embedded server, always stopped at the end of the test."""
    path = tmp_path / "embedded"
    try:
        yield path
    finally:
        stop_embedded_target(path)


def _version_num(url: str) -> int:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None
        return int(row[0])


def test_starts_postgres_18_reuses_it_and_stops(pgdata: Path) -> None:
    url = embedded_target_url(pgdata)
    assert (pgdata / "PG_VERSION").read_text().strip() == "18"
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SELECT version()").fetchone()
        assert row is not None and row[0].startswith("PostgreSQL 18")
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    # A second call (as a second CLI command would) finds the running server.
    assert embedded_target_url(pgdata) == url

    assert stop_embedded_target(pgdata) is True
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5).close()
    assert stop_embedded_target(pgdata) is False

    # Starting again in the same process brings the same data back.
    url_again = embedded_target_url(pgdata)
    with psycopg.connect(url_again, connect_timeout=10) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [(42,)]


def test_default_location_is_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_STATE_DIR, str(tmp_path / "state"))
    expected = (tmp_path / "state" / EMBEDDED_DIRNAME).resolve()
    assert embedded_data_dir() == expected
    assert EMBEDDED_DIRNAME in EMBEDDED_DATA_HELP
    try:
        url = embedded_target_url()
        assert (expected / "PG_VERSION").exists()
        assert _version_num(url) >= 180000
    finally:
        stop_embedded_target()
    assert stop_embedded_target() is False


def test_unusable_data_dir_is_a_connection_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ConnectionFailed, match="could not start the embedded PostgreSQL") as excinfo:
        embedded_target_url(blocker / "pg")
    assert excinfo.value.exit_code == 4
