"""Extension paths on real servers, and their fallbacks.

pg_cron (TTL cleanup) and pg_partman (time-series partitioning) run on Debian's PostgreSQL 15
with postgresql-15-cron / postgresql-15-partman (``pg15_*`` fixtures); the same plans on the
PostgreSQL 18 test server, which has neither, must fall back cleanly (``pg_url``). Every test
records the ``version()`` of each server it used as the junit property ``server_version`` (and
prints it), so a report shows which server each result came from.

pg_cron lives in one database per server (``cron.database_name = 'postgres'`` here) and can
only be created there; jobs for other databases are scheduled from it with
``cron.schedule_in_database``. Tests that schedule jobs in that shared database use unique
schema (hence job) names and unschedule their jobs afterwards.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from pgconsolidate import commands
from pgconsolidate.execute.cron import apply_cron, render_plan_cron
from pgconsolidate.execute.ddl import apply_ddl, render_plan_ddl, sweep_sql
from pgconsolidate.execute.partitioning import (
    cron_database,
    maintenance_job_name,
    maintenance_statements,
    partition_statements,
    uses_partman,
)
from pgconsolidate.mappings._common import derived_name
from pgconsolidate.models import Plan, PlanItem, TargetCaps, UsageKind
from pgconsolidate.pg import connect_pg, probe_target
from pgconsolidate.planfile import save_plan
from pgconsolidate.planner import build_plan

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from _plan_factories import inventory, pattern

# pytest warns that per-test properties are not in the xunit2 junit schema, yet writes them
# anyway (scripts/test.sh's junit.xml shows them): the warning is noise here.
pytestmark = pytest.mark.filterwarnings("ignore:record_property is incompatible:pytest.PytestWarning")

# Fixture name -> label, for the servers a test can touch.
_SERVER_FIXTURES = (("pg15_admin_url", "pg15"), ("pg15_url", "pg15"), ("pg_url", "pg18"))


@pytest.fixture(autouse=True)
def _record_servers(request: pytest.FixtureRequest, record_property: object) -> None:
    """Record ``SELECT version()`` of every server the test uses (junit property + stdout)."""
    seen: dict[str, str] = {}
    for fixture, label in _SERVER_FIXTURES:
        if fixture in request.fixturenames and label not in seen:
            url = request.getfixturevalue(fixture)
            with psycopg.connect(url, connect_timeout=10) as conn:
                row = conn.execute("SELECT version()").fetchone()
            assert row is not None
            seen[label] = str(row[0])
    if not seen:
        pytest.fail("every test in this file must use a PostgreSQL server fixture (its version is recorded)")
    text = "; ".join(f"{label}: {version}" for label, version in seen.items())
    assert callable(record_property)
    record_property("server_version", text)
    print(f"server_version: {text}")


def _caps(url: str) -> TargetCaps:
    with connect_pg(url) as conn:
        return probe_target(conn, url)


def _db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _ttl_plan(caps: TargetCaps, schema: str) -> tuple[Plan, PlanItem]:
    """The plan for a cache of string keys that all carry a TTL, and its one (kv_table) item."""
    plan = build_plan(inventory(pattern("cache:{id}", UsageKind.CACHE, with_ttl=100)), caps, schema=schema)
    [item] = plan.items
    assert item.verdict == "migrate" and item.target is not None and item.target.mapping == "kv_table"
    return plan, item


def _cleanup_job_name(item: PlanItem, database: str) -> str:
    # Same derivation as the kv_table template's cron_job (mappings._common.common_context).
    assert item.target is not None
    return derived_name(f"pgconsolidate_cleanup_{database}_{item.target.schema_name}_{item.target.table}", "")


def _jobs(admin_url: str, jobname: str) -> list[tuple[str, str, str, str, bool]]:
    """``(schedule, command, database, username, active)`` of the pg_cron jobs called ``jobname``."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT schedule, command, database, username, active FROM cron.job WHERE jobname = %s", (jobname,)
        ).fetchall()
    return [(str(a), str(b), str(c), str(d), bool(e)) for a, b, c, d, e in rows]


def _unschedule(admin_url: str, jobname: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'").fetchone():
            conn.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s", (jobname,))


def _insert_ttl_rows(conn: psycopg.Connection, table: sql.Composable) -> None:
    now = datetime.now(UTC)
    rows: list[tuple[str, datetime | None]] = [("gone-1", now - timedelta(seconds=5))]
    rows += [("gone-2", now - timedelta(days=1)), ("live", now + timedelta(hours=1)), ("forever", None)]
    with conn.cursor() as cur:
        cur.executemany(sql.SQL("INSERT INTO {} VALUES (%s, 'v', %s)").format(table), rows)


def _run_job_command(conn: psycopg.Connection, table: sql.Composable, command: str) -> list[str]:
    """Insert expired + live rows and run the job's command in ONE transaction; the keys left.

    One transaction keeps the real pg_cron worker (which may fire this job any minute) from
    deleting the rows first, so the rowcount proves the command itself did the deleting.
    """
    with conn.transaction():
        _insert_ttl_rows(conn, table)
        deleted = conn.execute(command.encode("utf-8")).rowcount
        keys = [str(r[0]) for r in conn.execute(sql.SQL("SELECT key FROM {} ORDER BY key").format(table))]
    assert deleted == 2
    return keys


# --------------------------------------------------------------------------- probe + planner


def test_probe_sees_pg_cron_and_partman_on_pg15_only(pg15_url: str, pg_url: str) -> None:
    pg15, pg18 = _caps(pg15_url), _caps(pg_url)
    assert pg15.major == 15 and pg18.major == 18
    assert pg15.can_use("pg_cron") and pg15.can_use("pg_partman")
    assert not pg18.can_use("pg_cron") and not pg18.can_use("pg_partman")
    with connect_pg(pg15_url) as conn:
        assert cron_database(conn) == "postgres"  # preloaded: the setting exists in every database
    with connect_pg(pg_url) as conn:
        assert cron_database(conn) is None  # not loaded on PostgreSQL 18: no job could ever run


def test_planner_picks_pg_cron_on_pg15_and_sweep_on_pg18(pg15_url: str, pg_url: str) -> None:
    _, on15 = _ttl_plan(_caps(pg15_url), "public")
    _, on18 = _ttl_plan(_caps(pg_url), "public")
    assert on15.target is not None and on15.target.options["cleanup"] == "pg_cron"
    assert on18.target is not None and on18.target.options["cleanup"] == "sweep"
    assert any("pg_cron job" in note for note in on15.notes)
    assert any("pgconsolidate sweep" in note for note in on18.notes)


# --------------------------------------------------------------------------- pg_cron TTL cleanup


def test_pg_cron_cleanup_job_in_the_cron_database(pg15_admin_url: str) -> None:
    """The plan's pg_cron statements when the target *is* cron.database_name (under a unique schema)."""
    schema = f"pgc_test_{uuid.uuid4().hex[:12]}"
    caps = _caps(pg15_admin_url)
    plan, item = _ttl_plan(caps, schema)
    assert item.target is not None and item.target.options["cleanup"] == "pg_cron"
    jobname = _cleanup_job_name(item, "postgres")
    statements = render_plan_ddl(plan, caps)
    cron = render_plan_cron(plan, caps)
    assert not any("cron" in stmt for stmt in statements)  # scheduling is not part of the target's DDL
    try:
        with connect_pg(pg15_admin_url) as conn:
            assert apply_ddl(conn, statements) == len(statements)
            assert apply_cron(pg15_admin_url, caps, cron) == len(cron) == 2
            assert apply_cron(pg15_admin_url, caps, cron) == 2  # idempotent: still one job
            [(schedule, command, database, username, active)] = _jobs(pg15_admin_url, jobname)
            assert (schedule, database, active) == ("* * * * *", "postgres", True)
            assert username == urlsplit(pg15_admin_url).username
            assert command == sweep_sql(item)  # the job runs exactly what `pgconsolidate sweep` runs
            table = sql.Identifier(schema, item.target.table)
            assert _run_job_command(conn, table, command) == ["forever", "live"]
    finally:
        _unschedule(pg15_admin_url, jobname)
        with psycopg.connect(pg15_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_pg_cron_cleanup_in_a_database_other_than_cron_database_name(pg15_url: str, pg15_admin_url: str) -> None:
    """The usual case: pg_cron lives in 'postgres', the target is another database of the server.

    The job is scheduled from 'postgres' with cron.schedule_in_database and runs in the target.
    """
    caps = _caps(pg15_url)
    assert caps.cron_database == "postgres" and caps.database != "postgres"
    plan, item = _ttl_plan(caps, "public")
    assert item.target is not None and item.target.options["cleanup"] == "pg_cron"
    jobname = _cleanup_job_name(item, caps.database)
    statements, cron = render_plan_ddl(plan, caps), render_plan_cron(plan, caps)
    try:
        with connect_pg(pg15_url) as conn:
            apply_ddl(conn, statements)
            apply_ddl(conn, statements)
            apply_cron(pg15_url, caps, cron)
            apply_cron(pg15_url, caps, cron)
            [(schedule, command, database, _, active)] = _jobs(pg15_admin_url, jobname)
            assert (schedule, database, active) == ("* * * * *", _db_name(pg15_url), True)
            table = sql.Identifier("public", item.target.table)
            assert _run_job_command(conn, table, command) == ["forever", "live"]
    finally:
        _unschedule(pg15_admin_url, jobname)


def test_pg18_without_pg_cron_falls_back_to_sweep(pg_url: str, tmp_path: Path) -> None:
    caps = _caps(pg_url)
    plan, item = _ttl_plan(caps, "public")
    assert item.target is not None and item.target.options["cleanup"] == "sweep"
    statements = render_plan_ddl(plan, caps)
    assert not any("cron" in stmt for stmt in statements)
    with connect_pg(pg_url) as conn:
        assert apply_ddl(conn, statements) == len(statements)
        assert apply_ddl(conn, statements) == len(statements)
        table = sql.Identifier("public", item.target.table)
        with conn.transaction():
            _insert_ttl_rows(conn, table)
    plan_path = save_plan(plan, tmp_path / "plan.yaml")
    deleted = commands.sweep(plan_path, target_url=pg_url)
    assert deleted == {f"public.{item.target.table}": 2}
    assert commands.sweep(plan_path, target_url=pg_url) == {f"public.{item.target.table}": 0}
    with connect_pg(pg_url) as conn:
        keys = [r[0] for r in conn.execute(sql.SQL("SELECT key FROM {} ORDER BY key").format(table))]
    assert keys == ["forever", "live"]


# --------------------------------------------------------------------------- pg_partman


@pytest.fixture
def events_parent() -> Iterator[tuple[str, str]]:
    """``(schema, table)`` of a time-series parent; the schema is unique so job names are too."""
    yield f"ts_{uuid.uuid4().hex[:12]}", "events"


def _create_parent(conn: psycopg.Connection, schema: str, table: str) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, payload text)"
                " PARTITION BY RANGE (ts)"
            ).format(sql.Identifier(schema, table))
        )


def _partitions(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    """child name -> partition bound expression of ``schema.table``."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (sql.Identifier(schema, table).as_string(conn),),
    ).fetchall()
    return {str(name): str(bound) for name, bound in rows}


def _insert_at(conn: psycopg.Connection, schema: str, table: str, ts: datetime, payload: str) -> str:
    """Insert one row; the name of the partition it landed in."""
    row = conn.execute(
        sql.SQL("INSERT INTO {} (ts, payload) VALUES (%s, %s) RETURNING tableoid::regclass::text").format(
            sql.Identifier(schema, table)
        ),
        (ts, payload),
    ).fetchone()
    assert row is not None
    return str(row[0]).rsplit(".", 1)[-1]


def test_pg_partman_installs_in_a_fresh_database(pg15_url: str) -> None:
    with connect_pg(pg15_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA partman")
        conn.execute("CREATE EXTENSION pg_partman SCHEMA partman")
        row = conn.execute(
            "SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_partman'"
        ).fetchone()
        assert row is not None and row[1] == "partman"
        assert str(row[0]).split(".")[0] == "4"  # Debian 12 ships 4.x: create_parent(p_type => 'native')
        assert conn.execute("SELECT to_regprocedure('partman.run_maintenance(text, boolean, boolean)')").fetchone()


def test_partman_registers_parent_and_pg_cron_maintains_it(
    pg15_url: str, pg15_admin_url: str, events_parent: tuple[str, str]
) -> None:
    schema, table = events_parent
    caps = _caps(pg15_url)
    assert uses_partman(caps)
    statements = partition_statements(schema, table, "ts", "1 day", caps, premake=4)
    jobname = maintenance_job_name(schema, table)
    try:
        with connect_pg(pg15_url) as conn:
            _create_parent(conn, schema, table)
            assert apply_ddl(conn, statements) == len(statements)
            assert apply_ddl(conn, statements) == len(statements)  # registered once
            config = conn.execute(
                "SELECT control, partition_interval, premake FROM partman.part_config WHERE parent_table = %s",
                (f"{schema}.{table}",),
            ).fetchone()
            assert config == ("ts", "1 day", 4)
            children = _partitions(conn, schema, table)
            # pg_partman makes premake partitions before and after the current one, plus a default.
            assert f"{table}_default" in children and children[f"{table}_default"] == "DEFAULT"
            assert len(children) >= 2 * 4 + 2
            with conn.transaction():
                landed = _insert_at(conn, schema, table, datetime.now(UTC), "today")
            # pg_partman cuts days in the session's time zone: the name is its business, the row
            # must land in one of its daily partitions rather than in the default.
            assert landed in children and landed != f"{table}_default"

            # Maintenance: scheduled from cron.database_name for this database, then run as the job would.
            cron_db = cron_database(conn)
            assert cron_db == _db_name(pg15_admin_url)
            maintenance = maintenance_statements(schema, table, caps, database=_db_name(pg15_url))
            with connect_pg(pg15_admin_url) as admin:
                apply_ddl(admin, maintenance)
                apply_ddl(admin, maintenance)  # same job name: updated, not duplicated
            [(schedule, command, database, _, active)] = _jobs(pg15_admin_url, jobname)
            assert (schedule, database, active) == ("0 * * * *", _db_name(pg15_url), True)
            with conn.transaction():
                conn.execute(command.encode("utf-8"))
            assert _partitions(conn, schema, table).keys() >= children.keys()
    finally:
        _unschedule(pg15_admin_url, jobname)


def test_pg18_without_partman_falls_back_to_native_partitions(pg_url: str, events_parent: tuple[str, str]) -> None:
    schema, table = events_parent
    caps = _caps(pg_url)
    assert not uses_partman(caps)
    assert maintenance_statements(schema, table, caps, database=_db_name(pg_url)) == []
    now = datetime.now(UTC)
    statements = partition_statements(schema, table, "ts", "1 day", caps, premake=4, now=now)
    assert not any("partman" in stmt for stmt in statements)
    with connect_pg(pg_url) as conn:
        _create_parent(conn, schema, table)
        assert apply_ddl(conn, statements) == len(statements)
        assert apply_ddl(conn, statements) == len(statements)  # IF NOT EXISTS throughout
        children = _partitions(conn, schema, table)
        assert children.pop(f"{table}_default") == "DEFAULT"
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        # Yesterday .. today + 4 days, one partition per day.
        expected = {f"{table}_p{today + timedelta(days=k):%Y_%m_%d}" for k in range(-1, 5)}
        assert set(children) == expected
        with conn.transaction():
            assert _insert_at(conn, schema, table, now, "today") == f"{table}_p{today:%Y_%m_%d}"
            tomorrow = today + timedelta(days=1, hours=1)
            assert _insert_at(conn, schema, table, tomorrow, "tomorrow") == f"{table}_p{tomorrow:%Y_%m_%d}"
            # Outside the window: the DEFAULT partition takes them, the insert never fails.
            assert _insert_at(conn, schema, table, now + timedelta(days=3650), "far future") == f"{table}_default"
            assert _insert_at(conn, schema, table, now - timedelta(days=365), "last year") == f"{table}_default"
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()
        assert count == (4,)
