"""The commands as plain functions: this module *is* the Python API.

Each function takes plain values (URLs, paths, options), does its work through the engines and
returns a model from :mod:`pgconsolidate.models`. Nothing here prints: the CLI renders the
returned objects. Connections are opened and closed here, so engines stay connection-agnostic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from pgconsolidate import __version__
from pgconsolidate.config import REDACTED, redact_text, redact_url
from pgconsolidate.errors import PlanError, StalePlanError, TargetError, UsageError
from pgconsolidate.models import (
    INVENTORY_FORMAT_VERSION,
    Inventory,
    MigrateReport,
    ParityReport,
    Plan,
    TargetCaps,
)
from pgconsolidate.progress import ProgressSink

if TYPE_CHECKING:
    import psycopg
    import redis


def now_iso() -> str:
    """Current UTC time, ISO-8601 with seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- connections


@contextmanager
def target_connection(target_url: str | None, *, autocommit: bool = True) -> Iterator[psycopg.Connection]:
    """Open the target: ``target_url``, or the embedded PostgreSQL 18 when it is None.

    Autocommit by default: the engines draw their own transaction boundaries with
    ``conn.transaction()`` (one per batch, rows + checkpoint), which only *commits* when no
    implicit transaction is already open; otherwise it would nest as a savepoint and nothing would
    be durable until the very end.
    """
    from pgconsolidate.pg import connect_pg

    url = target_url
    if url is None:
        from pgconsolidate.embedded import embedded_target_url

        url = embedded_target_url()
    conn = connect_pg(url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def redis_connection(redis_url: str) -> Iterator[redis.Redis]:
    """Open a Redis connection (bytes in, bytes out) and close it afterwards."""
    from pgconsolidate.sources.redis import connect_redis

    client = connect_redis(redis_url)
    try:
        yield client
    finally:
        client.close()


def probe(target_url: str | None) -> TargetCaps:
    """Probe the target server's version and extensions."""
    from pgconsolidate.pg import probe_target

    with target_connection(target_url) as conn:
        return probe_target(conn, target_url)


# --------------------------------------------------------------------------- analyze / plan / ddl


def analyze(
    redis_url: str | None = None,
    *,
    sample: int = 50_000,
    progress: ProgressSink | None = None,
    observe: float = 0.0,
    es_url: str | None = None,
    es_ca_file: str | None = None,
    es_api_key: str | None = None,
    es_indices: str = "*",
    include_hidden: bool = False,
) -> Inventory:
    """Sample a live Redis database and/or an Elasticsearch cluster and classify their usages.

    ``observe`` > 0 watches INFO commandstats for that many seconds first and records per-command
    rates in ``inventory.redis.server.observed`` (what the ``keep`` thresholds judge).
    ``es_indices`` narrows the Elasticsearch analysis to an index pattern; hidden and system
    indices are skipped (and listed) unless ``include_hidden``.
    """
    if redis_url is None and es_url is None:
        raise UsageError("nothing to analyze", hint="pass --redis URL and/or --es URL")
    redis_inv = es_inv = None
    if redis_url is not None:
        from pgconsolidate.analyze.sampler import sample_redis

        with redis_connection(redis_url) as client:
            redis_inv = sample_redis(client, redis_url, sample=sample, progress=progress, observe=observe)
    if es_url is not None:
        from pgconsolidate.es.analyze import sample_es
        from pgconsolidate.es.client import es_client

        with es_client(es_url, ca_file=es_ca_file, api_key=es_api_key) as es:
            es_inv = sample_es(es, es_url, indices=es_indices, include_hidden=include_hidden, progress=progress)
    return Inventory(tool_version=__version__, generated_at=now_iso(), redis=redis_inv, elasticsearch=es_inv)


def load_inventory(path: Path) -> Inventory:
    """Read an inventory written by ``analyze -o``; errors name the file and the bad field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such inventory file", hint="run `pgconsolidate analyze ... -o FILE`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read inventory: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > INVENTORY_FORMAT_VERSION:
        raise UsageError(
            f"{path}: inventory format_version {version} is newer than this tool supports "
            f"({INVENTORY_FORMAT_VERSION}); upgrade pgconsolidate"
        )
    try:
        return Inventory.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise UsageError(f"{path}: invalid inventory at {where}: {first['msg']}") from None


def make_plan(inventory: Inventory, target_url: str | None, *, schema: str = "public") -> Plan:
    """Map an inventory to a plan for the target (probed for version and extensions)."""
    from pgconsolidate.planner import build_plan

    caps = probe(target_url)
    return build_plan(inventory, caps, schema=schema)


def render_ddl(plan: Plan) -> list[str]:
    """The DDL a plan needs, rendered offline (no connection; capabilities as recorded in the plan).

    pg_cron statements come last, each headed by a comment: they run in pg_cron's database
    (``cron.database_name``), and name the target database, rendered here as ``target_database``.
    """
    from pgconsolidate.execute.cron import render_plan_cron
    from pgconsolidate.execute.ddl import render_plan_ddl

    head = "-- run in pg_cron's database (cron.database_name), replacing 'target_database' by the target's name\n"
    return render_plan_ddl(plan, None) + [head + stmt for stmt in render_plan_cron(plan, None)]


def load_plan(path: Path) -> Plan:
    """Load and validate a plan file (errors name the exact field path)."""
    from pgconsolidate.planfile import load_plan as _load

    return _load(path)


# --------------------------------------------------------------------------- migrate / verify


def _redis_url_for(plan: Plan, redis_url: str | None) -> str:
    """The Redis URL to read from: the flag/env, else the plan's when it carries no secret."""
    if redis_url:
        return redis_url
    for src in plan.sources:
        if src.kind == "redis":
            if REDACTED in src.url:
                raise UsageError(
                    "the plan's Redis URL has a redacted password",
                    hint="pass --redis or set PGCONSOLIDATE_REDIS_URL",
                )
            return src.url
    raise PlanError("the plan has no Redis source")


def check_fresh(plan: Plan, caps: TargetCaps, redis_fingerprint: str | None, *, allow_stale: bool) -> None:
    """Refuse a plan made for another target or source (like Terraform refuses a stale saved plan)."""
    if allow_stale:
        return
    if plan.target.fingerprint != caps.fingerprint:
        raise StalePlanError(
            f"the plan was made for target {plan.target.url or 'embedded'} (PostgreSQL {plan.target.server_version}, "
            f"fingerprint {plan.target.fingerprint}), but this target is {caps.url or 'embedded'} "
            f"(PostgreSQL {caps.server_version}, fingerprint {caps.fingerprint})",
            hint="re-run `pgconsolidate plan` against this target, or pass --allow-stale",
        )
    if redis_fingerprint is not None:
        for src in plan.sources:
            if src.kind == "redis" and src.fingerprint != redis_fingerprint:
                raise StalePlanError(
                    f"the plan was made for Redis {src.url} (fingerprint {src.fingerprint}); "
                    f"this Redis has fingerprint {redis_fingerprint}",
                    hint="re-run `pgconsolidate analyze` and `plan`, or pass --allow-stale",
                )


def migrate(
    plan_path: Path,
    *,
    target_url: str | None,
    redis_url: str | None,
    resume: bool = False,
    dry_run: bool = False,
    only: set[str] | None = None,
    allow_stale: bool = False,
    progress: ProgressSink | None = None,
) -> MigrateReport:
    """Apply the plan's DDL and copy every ``migrate`` item (``dry_run``: check and count only)."""
    import time

    from pgconsolidate.analyze.sampler import redis_fingerprint
    from pgconsolidate.execute.copy import copy_plan
    from pgconsolidate.execute.cron import apply_cron, render_plan_cron
    from pgconsolidate.execute.ddl import apply_ddl, render_plan_ddl
    from pgconsolidate.execute.runs import finish_run, start_run
    from pgconsolidate.pg import probe_target
    from pgconsolidate.planfile import plan_fingerprint

    plan = load_plan(plan_path)
    plan.migratable(only)  # reject unknown --only ids before connecting anywhere
    started = time.monotonic()
    source_url = _redis_url_for(plan, redis_url)
    with target_connection(target_url) as conn, redis_connection(source_url) as client:
        caps = probe_target(conn, target_url)
        check_fresh(plan, caps, redis_fingerprint(client, source_url), allow_stale=allow_stale)
        statements = render_plan_ddl(plan, caps)
        cron = render_plan_cron(plan, caps)
        if cron and not caps.has_pg_cron:
            raise TargetError(
                "the plan schedules cleanup with pg_cron, but the target has no preloaded pg_cron "
                "(cron.database_name is not set)",
                hint="re-run plan against this target, or set cleanup: sweep on those items",
            )
        report = MigrateReport(
            plan=str(plan_path),
            target=redact_url(target_url) if target_url else None,
            dry_run=dry_run,
            ddl_statements=len(statements) + len(cron),
        )
        if dry_run:
            return report
        apply_ddl(conn, statements)
        apply_cron(target_url, caps, cron)
        report.run_id = start_run(
            conn,
            caps,
            command="migrate --resume" if resume else "migrate",
            plan=str(plan_path),
            plan_fingerprint=plan_fingerprint(plan),
            tool_version=__version__,
        )
        try:
            # No plan-wide fingerprint: each item's checkpoint carries its own, so editing one item
            # of the plan does not restart every other item on --resume.
            report.items = copy_plan(client, conn, plan, resume=resume, only=only, progress=progress)
        except BaseException as exc:
            _close_run(conn, report.run_id, exc)
            raise
        finish_run(conn, report.run_id, status="succeeded", rows=sum(i.rows for i in report.items))
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _close_run(conn: psycopg.Connection, run_id: str, exc: BaseException) -> None:
    """Record a failed run; never mask the original error if even that fails (e.g. connection lost)."""
    from pgconsolidate.execute.runs import finish_run

    detail = redact_text(str(exc)) if isinstance(exc, Exception) else type(exc).__name__
    try:
        from psycopg.pq import TransactionStatus

        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.rollback()
        finish_run(conn, run_id, status="failed", detail=detail[:2000])
    except Exception:  # the original error is what the user needs to see
        return


def verify(
    plan_path: Path,
    *,
    target_url: str | None,
    redis_url: str | None,
    sample: int | None = None,
    seed: int = 0,
    full: bool = False,
    show_values: bool = False,
    only: set[str] | None = None,
    progress: ProgressSink | None = None,
) -> ParityReport:
    """Dual-read the plan's items from Redis and PostgreSQL and report every difference."""
    from pgconsolidate.verify import verify_plan

    plan = load_plan(plan_path)
    plan.migratable(only)  # reject unknown --only ids before connecting anywhere
    source_url = _redis_url_for(plan, redis_url)
    with target_connection(target_url) as conn, redis_connection(source_url) as client:
        report = verify_plan(
            client,
            conn,
            plan,
            sample=sample,
            seed=seed,
            full=full,
            show_values=show_values,
            only=only,
            progress=progress,
        )
    report.plan = str(plan_path)
    report.target = redact_url(target_url) if target_url else None
    return report


def sweep(plan_path: Path, *, target_url: str | None) -> dict[str, int]:
    """Delete expired rows from every TTL-bearing table of the plan (the fallback when pg_cron is absent)."""
    from pgconsolidate.execute.ddl import sweep_statements

    plan = load_plan(plan_path)
    deleted: dict[str, int] = {}
    with target_connection(target_url) as conn:
        for table, stmt in sweep_statements(plan):
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(stmt)
                deleted[table] = cur.rowcount
    return deleted
