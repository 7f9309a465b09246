"""The run log: one row per ``migrate`` run in ``pgconsolidate.runs`` on the target.

It answers "what was run against this database, when, from which plan, and how did it end" —
from the database itself, for operators who were not watching the terminal. Run ids are UUIDs:
time-ordered ``uuidv7()`` where the server has it (PostgreSQL 18), ``gen_random_uuid()`` before.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from psycopg import sql

from pgconsolidate.execute.state import STATE_SCHEMA
from pgconsolidate.models import TargetCaps

RunStatus = Literal["running", "succeeded", "failed"]

_TABLE = sql.Identifier(STATE_SCHEMA, "runs")


def _ddl(caps: TargetCaps) -> list[sql.Composed]:
    """Schema + table; the id default depends on what the server has."""
    id_default = sql.SQL("uuidv7()" if caps.has_uuidv7 else "gen_random_uuid()")
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STATE_SCHEMA)),
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
    run_id           uuid        PRIMARY KEY DEFAULT {},
    command          text        NOT NULL,
    plan             text        NOT NULL,
    plan_fingerprint text        NOT NULL,
    tool_version     text        NOT NULL,
    status           text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    rows_copied      bigint      NOT NULL DEFAULT 0,
    detail           text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
)"""
        ).format(_TABLE, id_default),
    ]


def start_run(
    conn: psycopg.Connection[Any],
    caps: TargetCaps,
    *,
    command: str,
    plan: str,
    plan_fingerprint: str,
    tool_version: str,
) -> str:
    """Record a run as ``running`` and return its id (commits)."""
    with conn.transaction(), conn.cursor() as cur:
        for stmt in _ddl(caps):
            cur.execute(stmt)
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (command, plan, plan_fingerprint, tool_version) "
                "VALUES (%s, %s, %s, %s) RETURNING run_id"
            ).format(_TABLE),
            (command, plan, plan_fingerprint, tool_version),
        )
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


def finish_run(
    conn: psycopg.Connection[Any], run_id: str, *, status: RunStatus, rows: int = 0, detail: str | None = None
) -> None:
    """Close a run with its outcome (commits). ``detail`` must already be redacted."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET status = %s, rows_copied = %s, detail = %s, finished_at = now() WHERE run_id = %s"
            ).format(_TABLE),
            (status, rows, detail, run_id),
        )
