"""The commands as plain functions: this module *is* the Python API.

Each function takes plain values (URLs, paths, options), does its work through the engines and
returns a model from :mod:`pgconsolidate.models`. Nothing here prints: the CLI renders the
returned objects. Connections are opened and closed here, so engines stay connection-agnostic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    PlanItem,
    TargetCaps,
)
from pgconsolidate.progress import ProgressSink

if TYPE_CHECKING:
    import psycopg
    import redis

    from pgconsolidate.translate import Translation


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


def _source_url(plan: Plan, kind: str, url: str | None, flag: str, env: str) -> str:
    """The URL to read ``kind`` from: the flag/env, else the plan's when it carries no secret."""
    if url:
        return url
    for src in plan.sources:
        if src.kind == kind:
            if REDACTED in src.url:
                raise UsageError(
                    f"the plan's {_KIND_NAMES[kind]} URL has a redacted password", hint=f"pass {flag} or set {env}"
                )
            return src.url
    raise PlanError(f"the plan has no {_KIND_NAMES[kind]} source")


_KIND_NAMES = {"redis": "Redis", "elasticsearch": "Elasticsearch"}


def _redis_url_for(plan: Plan, redis_url: str | None) -> str:
    """The Redis URL to read from: the flag/env, else the plan's when it carries no secret."""
    return _source_url(plan, "redis", redis_url, "--redis", "PGCONSOLIDATE_REDIS_URL")


def _es_url_for(plan: Plan, es_url: str | None) -> str:
    """The Elasticsearch URL to read from: the flag/env, else the plan's when it carries no secret."""
    return _source_url(plan, "elasticsearch", es_url, "--es", "PGCONSOLIDATE_ES_URL")


def check_fresh(
    plan: Plan,
    caps: TargetCaps,
    redis_fingerprint: str | None,
    *,
    allow_stale: bool,
    es_fingerprint: str | None = None,
) -> None:
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
    for kind, seen in (("redis", redis_fingerprint), ("elasticsearch", es_fingerprint)):
        if seen is None:
            continue
        for src in plan.sources:
            if src.kind == kind and src.fingerprint != seen:
                raise StalePlanError(
                    f"the plan was made for {_KIND_NAMES[kind]} {src.url} (fingerprint {src.fingerprint}); "
                    f"this {_KIND_NAMES[kind]} has fingerprint {seen}",
                    hint="re-run `pgconsolidate analyze` and `plan`, or pass --allow-stale",
                )


@dataclass
class _Sources:
    """The source connections a plan's selected items need (None when no item reads that source)."""

    redis: redis.Redis | None = None
    es: Any = None
    redis_fingerprint: str | None = None
    es_fingerprint: str | None = None


@contextmanager
def _open_sources(
    plan: Plan,
    items: list[PlanItem],
    *,
    redis_url: str | None,
    es_url: str | None,
    es_ca_file: str | None = None,
    es_api_key: str | None = None,
) -> Iterator[_Sources]:
    """Connect to the sources the items read, and only those (a search-only plan needs no Redis)."""
    kinds = {it.source.kind for it in items}
    with ExitStack() as stack:
        found = _Sources()
        if "redis" in kinds:
            from pgconsolidate.analyze.sampler import redis_fingerprint

            url = _redis_url_for(plan, redis_url)
            found.redis = stack.enter_context(redis_connection(url))
            found.redis_fingerprint = redis_fingerprint(found.redis, url)
        if "elasticsearch" in kinds:
            from pgconsolidate.es.analyze import es_fingerprint
            from pgconsolidate.es.client import es_client, server_info

            url = _es_url_for(plan, es_url)
            found.es = stack.enter_context(es_client(url, ca_file=es_ca_file, api_key=es_api_key))
            found.es_fingerprint = es_fingerprint(url, server_info(found.es))
        yield found


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
    es_url: str | None = None,
    es_ca_file: str | None = None,
    es_api_key: str | None = None,
    slices: int | None = None,
    on_error: str = "stop",
    reject_dir: Path | None = None,
) -> MigrateReport:
    """Apply the plan's DDL and copy every ``migrate`` item (``dry_run``: check and count only).

    Redis items go through the Redis copy engine, Elasticsearch items through PIT + search_after
    slices (``slices``, ``on_error``; rejected documents in ``reject_dir``, default
    ``<state dir>/rejects``). Only the sources the selected items read are connected to.
    """
    import time

    from pgconsolidate.config import state_dir
    from pgconsolidate.execute.copy import copy_plan
    from pgconsolidate.execute.cron import apply_cron, render_plan_cron
    from pgconsolidate.execute.ddl import apply_ddl, render_plan_ddl
    from pgconsolidate.execute.runs import finish_run, start_run
    from pgconsolidate.pg import probe_target
    from pgconsolidate.planfile import plan_fingerprint

    plan = load_plan(plan_path)
    items = plan.migratable(only)  # rejects unknown --only ids before connecting anywhere
    if on_error not in ("stop", "continue"):
        raise UsageError(f"--on-error must be 'stop' or 'continue', not {on_error!r}")
    started = time.monotonic()
    with (
        target_connection(target_url) as conn,
        _open_sources(
            plan, items, redis_url=redis_url, es_url=es_url, es_ca_file=es_ca_file, es_api_key=es_api_key
        ) as sources,
    ):
        caps = probe_target(conn, target_url)
        check_fresh(
            plan, caps, sources.redis_fingerprint, allow_stale=allow_stale, es_fingerprint=sources.es_fingerprint
        )
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
            report.items = copy_plan(
                sources.redis,
                conn,
                plan,
                resume=resume,
                only=only,
                progress=progress,
                es=sources.es,
                reject_dir=reject_dir or state_dir() / "rejects",
                slices=slices,
                on_error="continue" if on_error == "continue" else "stop",
            )
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
    es_url: str | None = None,
    es_ca_file: str | None = None,
    es_api_key: str | None = None,
    queries_path: Path | None = None,
    min_recall: float | None = None,
) -> ParityReport:
    """Dual-read the plan's items from their source and PostgreSQL and report every difference.

    ``full`` compares every Redis key, and every Elasticsearch document (the sample becomes the
    index's document count).

    Elasticsearch items also get query parity: the queries of ``queries_path`` (NDJSON of query
    bodies) or, without it, queries generated from the index, run on both sides; a mean recall@10
    below ``min_recall`` (default 0.8) fails the item like a mismatch does.
    """
    from pgconsolidate.verify import verify_plan

    plan = load_plan(plan_path)
    items = plan.migratable(only)  # rejects unknown --only ids before connecting anywhere
    queries = None
    if queries_path is not None:
        from pgconsolidate.es.verify import load_queries

        queries = load_queries(queries_path)
    with (
        target_connection(target_url) as conn,
        _open_sources(
            plan, items, redis_url=redis_url, es_url=es_url, es_ca_file=es_ca_file, es_api_key=es_api_key
        ) as sources,
    ):
        report = verify_plan(
            sources.redis,
            conn,
            plan,
            sample=sample,
            seed=seed,
            full=full,
            show_values=show_values,
            only=only,
            progress=progress,
            es=sources.es,
            queries=queries,
            min_recall=min_recall,
        )
    report.plan = str(plan_path)
    report.target = redact_url(target_url) if target_url else None
    return report


def translate_query(query_text: str, plan_path: Path, *, item_id: str | None = None) -> tuple[str, Translation]:
    """Translate an Elasticsearch query (JSON text) for the plan's ``es_index`` item; no connection.

    ``item_id`` picks the item when the plan migrates several indices. Returns the item id and
    the :class:`~pgconsolidate.translate.Translation` (its ``unsupported`` list is the caller's to
    act on). Bad JSON or an unknown item is a UsageError naming the problem.
    """
    from pgconsolidate.es.fieldmap import fieldmap_for
    from pgconsolidate.translate import translate

    try:
        query = json.loads(query_text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"the query is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    plan = load_plan(plan_path)
    candidates = [it for it in plan.migratable() if it.target is not None and it.target.mapping == "es_index"]
    if item_id is not None:
        chosen = [it for it in plan.items if it.id == item_id]
        if not chosen:
            raise UsageError(f"no plan item with id {item_id}", hint="item ids are listed in the plan file")
        candidates = chosen
    if not candidates:
        raise UsageError(f"{plan_path} has no migrated Elasticsearch index to translate against")
    if len(candidates) > 1:
        ids = ", ".join(it.id for it in candidates)
        raise UsageError(f"the plan migrates several indices ({ids})", hint="pick one with --item ID")
    item = candidates[0]
    return item.id, translate(query, fieldmap_for(item))


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
