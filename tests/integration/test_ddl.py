"""Rendered mapping DDL against a real PostgreSQL 18: idempotent, persistence, incr, live view, sweep, probe."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from pgconsolidate.errors import ConnectionFailed, TargetError
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl, render_plan_ddl, sweep_sql, sweep_statements
from pgconsolidate.models import Plan, PlanItem, PlanTarget
from pgconsolidate.pg import connect_pg, probe_target

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from _plan_factories import caps, item


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the test's fresh database."""
    with connect_pg(pg_url) as c:
        yield c


def _plan(*items: PlanItem) -> Plan:
    return Plan(
        tool_version="test",
        generated_at="2026-01-01T00:00:00+00:00",
        sources=[],
        target=PlanTarget(server_version="18", fingerprint="x"),
        items=list(items),
    )


ITEMS = (
    item(
        "kv_table",
        {"value_type": "jsonb", "unlogged": True, "cleanup": "sweep"},
        table="redis_session",
        schema="app cache",
        item_id="redis.db0.session.a",
    ),
    item(
        "kv_table",
        {"value_type": "bytea", "key_type": "bytea", "cleanup": "none"},
        table="redis_blob",
        item_id="redis.db0.blob.b",
    ),
    item(
        "hash_jsonb",
        {"unlogged": False, "field_encoding": "base64", "cleanup": "sweep"},
        table="redis_user",
        redis_type="hash",
        item_id="redis.db0.user.c",
    ),
    item("counter", {"cleanup": "sweep"}, table='redis "views"', item_id="redis.db0.views.d"),
    item("counter", {"key_type": "bytea", "cleanup": "none"}, table="c$pgc$x", item_id="redis.db0.bytes.e"),
)


def test_plan_ddl_applies_twice(conn: psycopg.Connection) -> None:
    statements = render_plan_ddl(_plan(*ITEMS), caps())
    assert statements[0] == 'CREATE SCHEMA IF NOT EXISTS "app cache"'
    assert apply_ddl(conn, statements) == len(statements)
    assert apply_ddl(conn, statements) == len(statements)  # idempotent
    rows = conn.execute(
        "SELECT n.nspname, c.relname, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND (c.relname LIKE 'redis%' OR c.relname LIKE 'c$%') ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        ("app cache", "redis_session", "u"),
        ("public", "c$pgc$x", "p"),
        ("public", 'redis "views"', "p"),
        ("public", "redis_blob", "p"),
        ("public", "redis_user", "p"),
    ]
    assert conn.execute('SELECT "public"."c$pgc$x_incr"(%s, by => 3)', (b"\xff",)).fetchone() == (3,)
    views = conn.execute("SELECT count(*) FROM pg_views WHERE viewname LIKE '%_live'").fetchone()
    assert views == (5,)


def test_counter_function_increments_and_resets_expired(conn: psycopg.Connection) -> None:
    counter = ITEMS[3]
    apply_ddl(conn, render_item_ddl(counter, caps()))
    incr = 'SELECT "public"."redis ""views""_incr"(%s, by => %s)'
    assert conn.execute(incr, ("a", 1)).fetchone() == (1,)
    assert conn.execute(incr, ("a", 41)).fetchone() == (42,)
    assert conn.execute('SELECT "public"."redis ""views""_incr"(%s)', ("a",)).fetchone() == (43,)
    past = datetime.now(UTC) - timedelta(seconds=5)
    conn.execute('INSERT INTO "public"."redis ""views""" VALUES (%s, %s, %s)', ("old", 100, past))
    assert conn.execute(incr, ("old", 2)).fetchone() == (2,)  # expired: starts again, TTL dropped
    assert conn.execute('SELECT expires_at FROM "public"."redis ""views""" WHERE key = \'old\'').fetchone() == (None,)
    future = datetime.now(UTC) + timedelta(hours=1)
    conn.execute('INSERT INTO "public"."redis ""views""" VALUES (%s, %s, %s)', ("live", 5, future))
    assert conn.execute(incr, ("live", 2)).fetchone() == (7,)
    row = conn.execute('SELECT expires_at FROM "public"."redis ""views""" WHERE key = \'live\'').fetchone()
    assert row is not None and row[0] == future  # a live counter keeps its TTL, like INCR


def test_live_view_filters_and_sweep_deletes_expired(conn: psycopg.Connection) -> None:
    session = ITEMS[0]
    apply_ddl(conn, render_plan_ddl(_plan(session), caps()))
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.executemany(
            'INSERT INTO "app cache"."redis_session" VALUES (%s, %s::jsonb, %s)',
            [
                ("live", '{"a": 1}', now + timedelta(hours=1)),
                ("forever", "[]", None),
                ("gone", '{"b": 2}', now - timedelta(seconds=1)),
                ("empty", None, None),
            ],
        )
    live = conn.execute('SELECT key FROM "app cache"."redis_session_live" ORDER BY key').fetchall()
    assert live == [("empty",), ("forever",), ("live",)]
    [(table, stmt)] = sweep_statements(_plan(session))
    assert table == "app cache.redis_session"
    assert stmt.as_string(None) == sweep_sql(session)  # one source of truth
    assert conn.execute(stmt).rowcount == 1
    left = conn.execute('SELECT key FROM "app cache"."redis_session" ORDER BY key').fetchall()
    assert left == [("empty",), ("forever",), ("live",)]


def test_apply_failure_rolls_back_and_names_statement(conn: psycopg.Connection) -> None:
    statements = [*render_item_ddl(ITEMS[1], caps()), "SELECT no_such_function()"]
    with pytest.raises(TargetError, match=r"DDL failed: function no_such_function\(\) does not exist: SELECT"):
        apply_ddl(conn, statements)
    assert conn.execute("SELECT to_regclass('public.redis_blob')").fetchone() == (None,)


def test_probe_target_reports_pg18_and_vector(conn: psycopg.Connection, pg_url: str) -> None:
    found = probe_target(conn, pg_url)
    assert found.major == 18
    assert found.has_uuidv7
    assert found.can_use("vector")
    assert "plpgsql" in found.extensions_installed
    assert found.system_identifier.isdigit()
    assert len(found.fingerprint) == 16
    assert found.url is not None and (":***@" in found.url or "@" not in found.url)
    assert probe_target(conn, pg_url).fingerprint == found.fingerprint  # stable


def test_connect_failures_are_one_redacted_line(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:wrong-secret-pw@{parts.hostname}:{parts.port}"))
    with pytest.raises(ConnectionFailed) as err:
        connect_pg(wrong)
    assert "password authentication failed" in str(err.value)
    assert "wrong-secret-pw" not in str(err.value) and "\n" not in str(err.value)
    missing_db = urlunsplit(parts._replace(path="/no_such_db_pgc"))
    with pytest.raises(ConnectionFailed, match='database "no_such_db_pgc" does not exist'):
        connect_pg(missing_db)
    with pytest.raises(ConnectionFailed, match="connection refused") as err:
        connect_pg("postgresql://postgres:s3cret-pw@127.0.0.1:1/postgres")
    assert "s3cret-pw" not in str(err.value)
