"""pg_cron scheduling, applied in pg_cron's own database.

pg_cron can only be created in the database named by ``cron.database_name`` and its jobs are
scheduled there; ``cron.schedule_in_database`` makes a job run in another database. So the
``cron_*`` blocks of the mapping templates are not part of the target's DDL transaction: they run
on a second connection to the same server, database ``caps.cron_database``, after the target's DDL
committed. Scheduling is idempotent (a job name is unique; scheduling it again updates it).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from pgconsolidate import templating
from pgconsolidate.config import redact_url
from pgconsolidate.errors import TargetError
from pgconsolidate.execute.ddl import apply_ddl, check_statement
from pgconsolidate.mappings import get_mapping
from pgconsolidate.models import Plan, PlanItem, TargetCaps


def render_item_cron(item: PlanItem, caps: TargetCaps | None) -> list[str]:
    """The checked pg_cron statements of one item (empty unless it is migrated with ``cleanup: pg_cron``)."""
    if item.verdict != "migrate" or item.target is None:
        return []
    mapping = get_mapping(item.target.mapping)
    statements = templating.render_statements(
        mapping.name, mapping.template_context(item, caps), prefix=templating.CRON_BLOCK_PREFIX
    )
    for stmt in statements:
        check_statement(stmt, what=f"item {item.id} (pg_cron)")
    return statements


def render_plan_cron(plan: Plan, caps: TargetCaps | None) -> list[str]:
    """Every pg_cron statement of the plan, in item-id order, each once."""
    out: list[str] = []
    for item in sorted(plan.migratable(), key=lambda it: it.id):
        for stmt in render_item_cron(item, caps):
            if stmt not in out:
                out.append(stmt)
    return out


def cron_conninfo(target_url: str, cron_database: str) -> str:
    """The target's connection string pointing at pg_cron's database instead."""
    return make_conninfo(target_url, dbname=cron_database)


def apply_cron(target_url: str | None, caps: TargetCaps, statements: list[str], **connect: Any) -> int:
    """Run ``statements`` in ``caps.cron_database`` on the target's server; returns how many ran.

    A TargetError says which database was used and why scheduling failed (e.g. the target's user
    may not connect to it): the table DDL has already committed, so the fix is to schedule the
    printed statements by hand or re-plan with ``cleanup: sweep``.
    """
    if not statements:
        return 0
    if target_url is None or not caps.cron_database:
        raise TargetError("pg_cron statements need a target URL and pg_cron's database (cron.database_name)")
    from pgconsolidate.pg import connect_pg

    conninfo = cron_conninfo(target_url, caps.cron_database)
    try:
        conn = connect_pg(conninfo, **connect)
    except psycopg.Error as exc:  # pragma: no cover - connect_pg raises ConnectionFailed itself
        raise TargetError(f"cannot connect to pg_cron's database {caps.cron_database}: {exc}") from None
    try:
        return apply_ddl(conn, statements)
    except TargetError as exc:
        raise TargetError(
            f"scheduling cleanup in pg_cron's database '{caps.cron_database}' on {redact_url(target_url)} failed: "
            f"{exc.message}",
            hint="tables are created; schedule by hand (pgconsolidate ddl prints the statements) or set cleanup: sweep",
        ) from None
    finally:
        conn.close()
