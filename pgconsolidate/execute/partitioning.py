"""Time-series partitioning: pg_partman when the target has it, explicit native partitions otherwise.

The caller creates the parent table (``CREATE TABLE ... PARTITION BY RANGE (<time column>)``);
:func:`partition_statements` renders what turns it into a maintained series of partitions:

* **pg_partman available** (``caps.can_use("pg_partman")``): install it in schema ``partman`` and
  register the parent with ``partman.create_parent(...)`` (pg_partman 4.x ``p_type => 'native'``,
  5.x ``'range'``), guarded by ``part_config`` so running the statements twice is a no-op.
  pg_partman then creates ``premake`` partitions ahead and a DEFAULT partition itself.
  :func:`maintenance_statements` schedules ``partman.run_maintenance(...)`` with pg_cron, so new
  partitions keep being made ahead of time.
* **fallback** (no pg_partman, e.g. PostgreSQL 18 with only contrib): plain declarative
  partitions for a fixed window (one interval back, ``premake`` intervals ahead), aligned to the
  interval so a later run adds partitions without overlapping earlier ones, plus a DEFAULT
  partition so inserts outside the window never fail. Nothing extends the window by itself: run
  the statements again (e.g. daily) to add partitions.

Every name and value goes through :func:`~pgconsolidate.mappings._common.ident` /
:func:`~pgconsolidate.mappings._common.literal` (psycopg's quoting); each statement parses with
sqlglot, so it passes :func:`pgconsolidate.execute.ddl.check_statement`.

pg_cron can only be installed in, and schedules only from, the one database named by the
server's ``cron.database_name``: the maintenance statements are meant for a connection to that
database (see :func:`cron_database`), and name the target database through
``cron.schedule_in_database`` (pg_cron 1.4+).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from pgconsolidate.errors import PlanError
from pgconsolidate.mappings._common import derived_name, ident, literal
from pgconsolidate.models import TargetCaps

PARTMAN_SCHEMA = "partman"
"""Schema pg_partman is installed into (its documentation's convention; the calls below use it)."""

DEFAULT_PREMAKE = 4
"""Partitions made ahead of the current one (pg_partman's own default)."""

MAINTENANCE_SCHEDULE = "0 * * * *"
"""pg_cron schedule of ``partman.run_maintenance``: hourly, as pg_partman's documentation advises."""

_UNITS = {"hour": "hour", "hours": "hour", "day": "day", "days": "day", "week": "week", "weeks": "week"}
_UNITS |= {"month": "month", "months": "month"}
_INTERVAL = re.compile(r"^\s*(\d+)\s+([a-z]+)\s*$")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# date_trunc('week') starts weeks on Monday; 1970-01-05 is the first Monday after the epoch.
_EPOCH_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
_SUFFIX_FORMAT = {"hour": "%Y_%m_%d_%H%M", "day": "%Y_%m_%d", "week": "%Y_%m_%d", "month": "%Y_%m"}


@dataclass(frozen=True)
class PartitionInterval:
    """A partition width: ``count`` hours, days, weeks or months."""

    count: int
    unit: str

    @property
    def text(self) -> str:
        """PostgreSQL interval text, e.g. ``1 day`` (what ``p_interval`` receives)."""
        return f"{self.count} {self.unit}"


def parse_interval(text: str) -> PartitionInterval:
    """``"1 day"``, ``"6 hours"``, ``"1 week"``, ``"1 month"`` -> PartitionInterval; PlanError otherwise."""
    match = _INTERVAL.match(text.lower())
    unit = _UNITS.get(match.group(2)) if match else None
    if match is None or unit is None or int(match.group(1)) < 1:
        raise PlanError(
            f"partition interval {text!r} is not supported: use '<n> hour(s)', '<n> day(s)', "
            "'<n> week(s)' or '<n> month(s)' with n >= 1"
        )
    return PartitionInterval(int(match.group(1)), unit)


def uses_partman(caps: TargetCaps) -> bool:
    """True when the target can run pg_partman (installed, or available to CREATE EXTENSION)."""
    return caps.can_use("pg_partman")


def partition_statements(
    schema: str,
    table: str,
    time_column: str,
    interval: str,
    caps: TargetCaps,
    *,
    premake: int = DEFAULT_PREMAKE,
    now: datetime | None = None,
) -> list[str]:
    """Statements (for the target database) that partition the existing parent ``schema.table``.

    ``schema.table`` must already be ``PARTITION BY RANGE (time_column)``. With pg_partman the
    parent is registered with ``partman.create_parent``; without it, the fallback window of
    native partitions around ``now`` (default: the current UTC time) and a DEFAULT partition
    are created. Both are idempotent. PlanError for an unsupported interval or premake < 1.
    """
    width = parse_interval(interval)
    if premake < 1:
        raise PlanError(f"partition premake must be at least 1, not {premake}")
    if uses_partman(caps):
        return _partman_statements(schema, table, time_column, width, caps, premake)
    return _native_statements(schema, table, width, premake, now or datetime.now(UTC))


def maintenance_job_name(schema: str, table: str) -> str:
    """The pg_cron job name of a parent table's pg_partman maintenance (at most 63 bytes)."""
    return derived_name(f"pgconsolidate_partman_{schema}_{table}", "")


def maintenance_statements(schema: str, table: str, caps: TargetCaps, *, database: str) -> list[str]:
    """Statements scheduling ``partman.run_maintenance`` for ``schema.table`` with pg_cron.

    Run them in the database named by the server's ``cron.database_name`` (see
    :func:`cron_database`); ``database`` is the target database the job runs in. Scheduling the
    same job name again updates the job, so they are idempotent. Empty when the target lacks
    pg_partman (the fallback has nothing to maintain) or pg_cron (then use pg_partman's
    background worker, or call run_maintenance from an external scheduler).
    """
    if not (uses_partman(caps) and caps.can_use("pg_cron")):
        return []
    command = f"SELECT {PARTMAN_SCHEMA}.run_maintenance(p_parent_table => {literal(partman_parent(schema, table))})"
    job, schedule = literal(maintenance_job_name(schema, table)), literal(MAINTENANCE_SCHEDULE)
    if _version(caps, "pg_cron") >= (1, 4):
        schedule_call = f"cron.schedule_in_database({job}, {schedule}, {literal(command)}, {literal(database)})"
    else:
        # Before 1.4 a job always runs in cron.database_name: only right when that is the target.
        schedule_call = f"cron.schedule({job}, {schedule}, {literal(command)})"
    return ["CREATE EXTENSION IF NOT EXISTS pg_cron", f"SELECT {schedule_call}"]


def cron_database(conn: psycopg.Connection) -> str | None:
    """The server's ``cron.database_name`` (where pg_cron jobs are scheduled from), or None.

    The setting exists in every database once pg_cron is in ``shared_preload_libraries``; None
    means pg_cron is not loaded, so no job would ever run whatever the catalogs say.
    """
    row = conn.execute("SELECT current_setting('cron.database_name', true)").fetchone()
    return str(row[0]) if row is not None and row[0] else None


def partman_parent(schema: str, table: str) -> str:
    """pg_partman's ``schema.table`` text for the parent; PlanError for names it cannot handle.

    pg_partman 4.x/5.x split ``p_parent_table`` on the first dot and compare the halves with the
    catalogs unquoted, so a dot inside either name would address the wrong table.
    """
    for name in (schema, table):
        if "." in name:
            raise PlanError(f"pg_partman cannot manage a table whose schema or name contains a dot: {name!r}")
    return f"{schema}.{table}"


def _partman_statements(
    schema: str, table: str, time_column: str, width: PartitionInterval, caps: TargetCaps, premake: int
) -> list[str]:
    parent = literal(partman_parent(schema, table))
    # pg_partman 5 dropped trigger-based partitioning and renamed 'native' to 'range'.
    p_type = "range" if _version(caps, "pg_partman") >= (5,) else "native"
    config = ident(PARTMAN_SCHEMA, "part_config")
    register = (
        f"SELECT {ident(PARTMAN_SCHEMA, 'create_parent')}("
        f"p_parent_table => {parent}, p_control => {literal(time_column)}, p_type => {literal(p_type)}, "
        f"p_interval => {literal(width.text)}, p_premake => {premake:d}) "
        # create_parent fails on a parent it already manages: register once.
        f"WHERE NOT EXISTS (SELECT 1 FROM {config} WHERE parent_table = {parent})"
    )
    return [
        f"CREATE SCHEMA IF NOT EXISTS {ident(PARTMAN_SCHEMA)}",
        f"CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA {ident(PARTMAN_SCHEMA)}",
        register,
    ]


def _native_statements(schema: str, table: str, width: PartitionInterval, premake: int, now: datetime) -> list[str]:
    parent = ident(schema, table)
    current = _period_start(now, width)
    out: list[str] = []
    for k in range(-1, premake + 1):
        lower, upper = _shift(current, width, k), _shift(current, width, k + 1)
        child = ident(schema, derived_name(table, "_p" + lower.strftime(_SUFFIX_FORMAT[width.unit])))
        out.append(
            f"CREATE TABLE IF NOT EXISTS {child} PARTITION OF {parent} "
            f"FOR VALUES FROM ({literal(_bound(lower))}) TO ({literal(_bound(upper))})"
        )
    default = ident(schema, derived_name(table, "_default"))
    out.append(f"CREATE TABLE IF NOT EXISTS {default} PARTITION OF {parent} DEFAULT")
    return out


def _period_start(now: datetime, width: PartitionInterval) -> datetime:
    """Start of the period holding ``now``, aligned to multiples of the width since the epoch.

    Alignment to a fixed origin (not to ``now``) makes every run produce the same boundaries,
    so partitions made on different days never overlap.
    """
    now = now.astimezone(UTC)
    if width.unit == "month":
        months = (now.year - 1970) * 12 + now.month - 1
        return _month(months - months % width.count)
    origin = _EPOCH_MONDAY if width.unit == "week" else _EPOCH
    step = _STEP[width.unit] * width.count
    return origin + ((now - origin) // step) * step


def _shift(start: datetime, width: PartitionInterval, periods: int) -> datetime:
    if width.unit == "month":
        months = (start.year - 1970) * 12 + start.month - 1
        return _month(months + periods * width.count)
    return start + _STEP[width.unit] * width.count * periods


def _month(months_since_1970: int) -> datetime:
    year, month = divmod(months_since_1970, 12)
    return datetime(1970 + year, month + 1, 1, tzinfo=UTC)


def _bound(moment: datetime) -> str:
    """A partition bound in UTC (explicit offset: the session time zone must not shift it)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _version(caps: TargetCaps, extension: str) -> tuple[int, ...]:
    """The installed (else available) version of ``extension`` as numbers, e.g. ``1.4-1`` -> (1, 4, 1)."""
    text = caps.extensions_installed.get(extension) or caps.extensions_available.get(extension) or ""
    return tuple(int(part) for part in re.findall(r"\d+", text))
