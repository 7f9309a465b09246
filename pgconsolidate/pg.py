"""The PostgreSQL target: connecting (with one-line, redacted errors) and probing its capabilities.

:func:`probe_target` returns :class:`~pgconsolidate.models.TargetCaps`, the only thing the planner
knows about the target; its fingerprint lets ``migrate`` refuse a plan made for another server.
"""

from __future__ import annotations

import hashlib

import psycopg

from pgconsolidate.config import redact_text, redact_url, url_password
from pgconsolidate.errors import ConnectionFailed, TargetError
from pgconsolidate.models import TargetCaps

MIN_SERVER_VERSION_NUM = 130000
"""Oldest supported server: PostgreSQL 13 (the tool is designed and tested for 18)."""

CONNECT_TIMEOUT_SECONDS = 10

_KNOWN_FAILURES: tuple[tuple[str, str], ...] = (
    ("password authentication failed", "password authentication failed"),
    ("connection refused", "connection refused"),
    ("timeout expired", "connection timed out"),
    ("timed out", "connection timed out"),
    ("could not translate host name", "unknown host"),
    ("no such file or directory", "no server listening on that socket"),
)


def connect_pg(url: str, *, autocommit: bool = False, application_name: str = "pgconsolidate") -> psycopg.Connection:
    """Open a connection to ``url``; ConnectionFailed with one clear, redacted line when it fails."""
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
    except psycopg.Error as exc:
        raise ConnectionFailed(describe_connect_error(url, str(exc))) from None


def describe_connect_error(url: str, raw: str) -> str:
    """One redacted line explaining a failed connection (the driver text can quote the DSN)."""
    where = redact_url(url)
    lower = raw.lower()
    if "does not exist" in lower and "database" in lower:
        reason = _first_line(raw[lower.index("database") :])
    else:
        reason = next((label for needle, label in _KNOWN_FAILURES if needle in lower), None) or _first_line(raw)
    return redact_text(f"cannot connect to PostgreSQL at {where}: {reason}", url_password(url))


def probe_target(conn: psycopg.Connection, url: str | None) -> TargetCaps:
    """What the server is and has: version, database, system identifier, extensions, fingerprint.

    Raises TargetError for servers older than PostgreSQL 13.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_database()"
        )
        row = cur.fetchone()
        assert row is not None
        version, version_num, database = str(row[0]), int(row[1]), str(row[2])
        if version_num < MIN_SERVER_VERSION_NUM:
            raise TargetError(
                f"PostgreSQL {version} is not supported; pgconsolidate needs PostgreSQL 13 or newer "
                "(it is designed and tested for PostgreSQL 18)"
            )
        system_identifier = _system_identifier(conn)
        cur.execute("SELECT extname, extversion FROM pg_extension ORDER BY extname")
        installed = {str(name): str(ver) for name, ver in cur.fetchall()}
        cur.execute("SELECT name, coalesce(default_version, '') FROM pg_available_extensions ORDER BY name")
        available = {str(name): str(ver) for name, ver in cur.fetchall()}
        # Only a preloaded pg_cron defines this setting; its jobs live in that one database.
        cur.execute("SELECT current_setting('cron.database_name', true)")
        cron_row = cur.fetchone()
        cron_database = str(cron_row[0]) if cron_row and cron_row[0] else None
    return TargetCaps(
        url=redact_url(url) if url is not None else None,
        server_version=version.split(" ", 1)[0],
        server_version_num=version_num,
        database=database,
        system_identifier=system_identifier,
        extensions_installed=installed,
        extensions_available=available,
        cron_database=cron_database,
        fingerprint=target_fingerprint(system_identifier, database, version_num // 10000, installed),
    )


def target_fingerprint(system_identifier: str, database: str, major: int, installed: dict[str, str] | list[str]) -> str:
    """Short sha256 over what makes a target "the same": cluster, database, major, installed extensions."""
    text = "|".join([system_identifier, database, str(major), ",".join(sorted(installed))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _system_identifier(conn: psycopg.Connection) -> str:
    """The cluster's system identifier; ``unknown`` when the role may not read pg_control."""
    try:
        with conn.transaction(), conn.cursor() as cur:  # a savepoint when already in a transaction
            cur.execute("SELECT system_identifier::text FROM pg_control_system()")
            row = cur.fetchone()
            return str(row[0]) if row else "unknown"
    except psycopg.errors.InsufficientPrivilege:
        return "unknown"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else "unknown error"
