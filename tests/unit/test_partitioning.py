"""Rendering of time-series partitioning SQL (pg_partman or the native fallback); no server needed."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from _plan_factories import caps

from pgconsolidate.errors import PlanError
from pgconsolidate.execute.ddl import check_statement
from pgconsolidate.execute.partitioning import (
    PartitionInterval,
    maintenance_job_name,
    maintenance_statements,
    parse_interval,
    partition_statements,
    uses_partman,
)
from pgconsolidate.models import TargetCaps

BASE = {"plpgsql": "1.0"}
PARTMAN4 = caps(available={**BASE, "pg_partman": "4.7.2"})
PARTMAN5 = caps(installed={**BASE, "pg_partman": "5.1.0"}, available={**BASE, "pg_partman": "5.2.4"})
PARTMAN_CRON = caps(available={**BASE, "pg_partman": "4.7.2", "pg_cron": "1.4-1"})
PARTMAN_OLD_CRON = caps(available={**BASE, "pg_partman": "4.7.2", "pg_cron": "1.3"})
PLAIN = caps(available={**BASE, "pg_cron": "1.6"})  # no pg_partman: the fallback, even with pg_cron

NOW = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 day", PartitionInterval(1, "day")),
        ("  7 Days ", PartitionInterval(7, "day")),
        ("6 hours", PartitionInterval(6, "hour")),
        ("1 week", PartitionInterval(1, "week")),
        ("3 months", PartitionInterval(3, "month")),
    ],
)
def test_parse_interval_normalises(text: str, expected: PartitionInterval) -> None:
    assert parse_interval(text) == expected
    assert parse_interval(expected.text) == expected


@pytest.mark.parametrize("text", ["day", "0 days", "1.5 days", "1 fortnight", "-1 day", "1 day 2 hours", ""])
def test_parse_interval_rejects_what_it_cannot_align(text: str) -> None:
    with pytest.raises(PlanError, match="partition interval"):
        parse_interval(text)


def test_partman_4_registers_the_parent_once() -> None:
    assert uses_partman(PARTMAN4)
    assert partition_statements("app", "events", "ts", "1 day", PARTMAN4, premake=4) == [
        'CREATE SCHEMA IF NOT EXISTS "partman"',
        'CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA "partman"',
        "SELECT \"partman\".\"create_parent\"(p_parent_table => 'app.events', p_control => 'ts', "
        "p_type => 'native', p_interval => '1 day', p_premake => 4) "
        'WHERE NOT EXISTS (SELECT 1 FROM "partman"."part_config" WHERE parent_table = \'app.events\')',
    ]


def test_partman_5_uses_the_range_type() -> None:
    [*_, register] = partition_statements("app", "events", "ts", "1 hour", PARTMAN5, premake=2)
    assert "p_type => 'range'" in register and "p_interval => '1 hour'" in register and "p_premake => 2" in register


def test_partman_names_are_quoted_literals() -> None:
    [*_, register] = partition_statements("Ops", "it's", 'at "time"', "1 day", PARTMAN4)
    assert "p_parent_table => 'Ops.it''s'" in register
    assert "p_control => 'at \"time\"'" in register


def test_partman_refuses_dotted_names() -> None:
    with pytest.raises(PlanError, match="contains a dot"):
        partition_statements("app", "v1.events", "ts", "1 day", PARTMAN4)


def test_fallback_daily_window_and_default() -> None:
    assert not uses_partman(PLAIN)
    statements = partition_statements("app", "events", "ts", "1 day", PLAIN, premake=2, now=NOW)
    part = 'CREATE TABLE IF NOT EXISTS "app"."events_p{}" PARTITION OF "app"."events" FOR VALUES FROM ({}) TO ({})'
    assert statements == [
        part.format("2026_02_28", "'2026-02-28 00:00:00+00'", "'2026-03-01 00:00:00+00'"),
        part.format("2026_03_01", "'2026-03-01 00:00:00+00'", "'2026-03-02 00:00:00+00'"),
        part.format("2026_03_02", "'2026-03-02 00:00:00+00'", "'2026-03-03 00:00:00+00'"),
        part.format("2026_03_03", "'2026-03-03 00:00:00+00'", "'2026-03-04 00:00:00+00'"),
        'CREATE TABLE IF NOT EXISTS "app"."events_default" PARTITION OF "app"."events" DEFAULT',
    ]


def test_fallback_months_cross_the_year_and_align() -> None:
    statements = partition_statements(
        "s", "t", "ts", "3 months", PLAIN, premake=1, now=datetime(2025, 12, 31, tzinfo=UTC)
    )
    # Quarters from 1970-01: Oct-Dec 2025 holds "now"; one before, one after.
    assert [_bounds(s) for s in statements[:-1]] == [
        ("2025-07-01 00:00:00+00", "2025-10-01 00:00:00+00"),
        ("2025-10-01 00:00:00+00", "2026-01-01 00:00:00+00"),
        ("2026-01-01 00:00:00+00", "2026-04-01 00:00:00+00"),
    ]
    assert '"t_p2025_10"' in statements[1]


def test_fallback_weeks_start_on_monday() -> None:
    # 2026-03-01 is a Sunday: its week started on Monday 2026-02-23 (like date_trunc('week')).
    statements = partition_statements("s", "t", "ts", "1 week", PLAIN, premake=1, now=NOW)
    assert _bounds(statements[1]) == ("2026-02-23 00:00:00+00", "2026-03-02 00:00:00+00")


def test_fallback_hours_and_time_zones() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=-5)))  # the same instant, written in UTC-5
    statements = partition_statements("s", "t", "ts", "6 hours", PLAIN, premake=1, now=local)
    assert _bounds(statements[1]) == ("2026-03-01 06:00:00+00", "2026-03-01 12:00:00+00")
    assert '"t_p2026_03_01_0600"' in statements[1]


@pytest.mark.parametrize("interval", ["1 hour", "2 days", "1 week", "1 month", "2 months"])
def test_fallback_runs_on_later_days_never_overlap(interval: str) -> None:
    """A partition name always means the same range, and ranges of different names never overlap."""
    ranges: dict[str, tuple[str, str]] = {}
    for day in range(0, 70, 3):
        for stmt in partition_statements("s", "t", "ts", interval, PLAIN, now=NOW + timedelta(days=day, hours=day)):
            if "DEFAULT" not in stmt:
                name = stmt.split()[5]
                assert ranges.setdefault(name, _bounds(stmt)) == _bounds(stmt)
    ordered = sorted(ranges.values())
    assert all(upper <= next_lower for (_, upper), (next_lower, _) in itertools.pairwise(ordered))


def test_long_table_names_stay_within_63_bytes() -> None:
    table = "e" * 70
    for stmt in partition_statements("s", table, "ts", "1 hour", PLAIN, now=NOW):
        name = re.search(r'"s"\."([^"]+)" PARTITION OF', stmt)
        assert name is not None and len(name.group(1).encode()) <= 63
    assert len(maintenance_job_name("s" * 40, table).encode()) <= 63


@pytest.mark.parametrize("target", [PARTMAN4, PARTMAN5, PLAIN])
def test_every_statement_passes_the_ddl_check(target: TargetCaps) -> None:
    statements = partition_statements("my schema", 'ev"ents', "ts", "1 day", target, now=NOW)
    statements += maintenance_statements("my schema", 'ev"ents', PARTMAN_CRON, database="app db")
    for stmt in statements:
        check_statement(stmt, what="partitioning")


def test_premake_must_be_positive() -> None:
    with pytest.raises(PlanError, match="premake"):
        partition_statements("s", "t", "ts", "1 day", PLAIN, premake=0)


def test_maintenance_is_scheduled_in_the_target_database_with_pg_cron_1_4() -> None:
    job = maintenance_job_name("app", "events")
    assert job == "pgconsolidate_partman_app_events"
    assert maintenance_statements("app", "events", PARTMAN_CRON, database="shop") == [
        "CREATE EXTENSION IF NOT EXISTS pg_cron",
        f"SELECT cron.schedule_in_database('{job}', '0 * * * *', "
        "'SELECT partman.run_maintenance(p_parent_table => ''app.events'')', 'shop')",
    ]


def test_maintenance_before_pg_cron_1_4_runs_in_the_cron_database() -> None:
    [_, schedule] = maintenance_statements("app", "events", PARTMAN_OLD_CRON, database="shop")
    assert schedule.startswith("SELECT cron.schedule('pgconsolidate_partman_app_events', '0 * * * *', ")
    assert "shop" not in schedule


@pytest.mark.parametrize("target", [PARTMAN4, PLAIN], ids=["partman-without-pg_cron", "pg_cron-without-partman"])
def test_no_maintenance_without_both_extensions(target: TargetCaps) -> None:
    assert maintenance_statements("app", "events", target, database="shop") == []


def _bounds(stmt: str) -> tuple[str, str]:
    found = re.search(r"FROM \('([^']+)'\) TO \('([^']+)'\)", stmt)
    assert found is not None, stmt
    return found.group(1), found.group(2)
