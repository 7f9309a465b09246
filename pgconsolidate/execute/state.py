"""Copy checkpoints, kept in the target database (schema ``pgconsolidate``).

One row per (plan item, target table) records the Redis SCAN cursor to resume from, the rows
copied so far and whether the item is ``running`` or ``done``. The copy engine calls
:func:`save_checkpoint` *inside* each batch's transaction, so the rows of a batch and the cursor
that follows it commit (or vanish) together: after a crash, resuming from the stored cursor can
neither skip a batch nor double-count one.

A second table, ``deferred_indexes``, records the secondary indexes the copy engine dropped for
a first load (rebuilt once at the end: one sort instead of a random btree insert per row). The
definitions are written in the transaction that drops the indexes, so a crash mid-load cannot
lose one: the next copy of that table recreates every recorded index before anything else.

None of these functions commits except :func:`ensure_state` (DDL, run once per session); the
caller owns the transaction boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

STATE_SCHEMA = "pgconsolidate"
CHECKPOINTS_TABLE = "checkpoints"
DEFERRED_INDEXES_TABLE = "deferred_indexes"

CheckpointStatus = Literal["running", "done"]

_TABLE = sql.Identifier(STATE_SCHEMA, CHECKPOINTS_TABLE)
_DEFERRED = sql.Identifier(STATE_SCHEMA, DEFERRED_INDEXES_TABLE)

# numeric(20,0): a Redis SCAN cursor is an unsigned 64-bit integer, which does not fit bigint.
_DDL = (
    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STATE_SCHEMA)),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
    item_id          text        NOT NULL,
    target_table     text        NOT NULL,
    scan_cursor      numeric(20,0) NOT NULL DEFAULT 0,
    rows_copied      bigint      NOT NULL DEFAULT 0,
    status           text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    plan_fingerprint text        NOT NULL DEFAULT '',
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, target_table)
)"""
    ).format(_TABLE),
    # Keyed by the table, not the plan item: whichever run next touches the table restores them.
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
    schema_name  text        NOT NULL,
    table_name   text        NOT NULL,
    index_name   text        NOT NULL,
    definition   text        NOT NULL,
    deferred_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, table_name, index_name)
)"""
    ).format(_DEFERRED),
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The persisted progress of one item's copy into one target table."""

    item_id: str
    target_table: str
    cursor: int
    rows_copied: int
    status: CheckpointStatus
    plan_fingerprint: str
    started_at: datetime
    updated_at: datetime

    @property
    def done(self) -> bool:
        """True when the item finished copying."""
        return self.status == "done"


def ensure_state(conn: psycopg.Connection[Any]) -> None:
    """Create the ``pgconsolidate`` schema, checkpoints and deferred-index tables if missing (idempotent; commits)."""
    with conn.transaction(), conn.cursor() as cur:
        for stmt in _DDL:
            cur.execute(stmt)


def load_checkpoint(conn: psycopg.Connection[Any], item_id: str, target_table: str) -> Checkpoint | None:
    """The checkpoint of ``item_id`` for ``target_table`` (qualified name), or None if never started."""
    query = sql.SQL(
        "SELECT item_id, target_table, scan_cursor, rows_copied, status, plan_fingerprint, started_at, updated_at "
        "FROM {} WHERE item_id = %s AND target_table = %s"
    ).format(_TABLE)
    with conn.cursor() as cur:
        cur.execute(query, (item_id, target_table))
        row = cur.fetchone()
    if row is None:
        return None
    return Checkpoint(
        item_id=row[0],
        target_table=row[1],
        cursor=int(row[2]),
        rows_copied=int(row[3]),
        status=row[4],
        plan_fingerprint=row[5],
        started_at=row[6],
        updated_at=row[7],
    )


def reset_checkpoint(
    conn: psycopg.Connection[Any], item_id: str, target_table: str, *, plan_fingerprint: str = ""
) -> None:
    """(Re)start an item: cursor 0, no rows, status ``running``, fresh start time."""
    query = sql.SQL(
        "INSERT INTO {} (item_id, target_table, scan_cursor, rows_copied, status, plan_fingerprint, "
        "started_at, updated_at) VALUES (%s, %s, 0, 0, 'running', %s, now(), now()) "
        "ON CONFLICT (item_id, target_table) DO UPDATE SET scan_cursor = 0, rows_copied = 0, "
        "status = 'running', plan_fingerprint = EXCLUDED.plan_fingerprint, started_at = now(), updated_at = now()"
    ).format(_TABLE)
    with conn.cursor() as cur:
        cur.execute(query, (item_id, target_table, plan_fingerprint))


def save_checkpoint(
    conn: psycopg.Connection[Any], item_id: str, target_table: str, *, cursor: int, rows_added: int
) -> None:
    """Record that the scan may resume from ``cursor`` and that ``rows_added`` more rows were written.

    Call it inside the batch's transaction so the rows and the cursor commit atomically.
    """
    query = sql.SQL(
        "UPDATE {} SET scan_cursor = %s, rows_copied = rows_copied + %s, updated_at = now() "
        "WHERE item_id = %s AND target_table = %s"
    ).format(_TABLE)
    with conn.cursor() as cur:
        cur.execute(query, (cursor, rows_added, item_id, target_table))
        if cur.rowcount != 1:
            # A missing row means reset_checkpoint was never called: a programming error, and
            # continuing would silently lose the ability to resume.
            raise RuntimeError(f"no checkpoint row for item {item_id!r} / {target_table!r}")


def mark_done(conn: psycopg.Connection[Any], item_id: str, target_table: str) -> None:
    """Mark the item finished (``--resume`` then skips it); the cursor goes back to 0."""
    query = sql.SQL(
        "UPDATE {} SET status = 'done', scan_cursor = 0, updated_at = now() WHERE item_id = %s AND target_table = %s"
    ).format(_TABLE)
    with conn.cursor() as cur:
        cur.execute(query, (item_id, target_table))


@dataclass(frozen=True, slots=True)
class DeferredIndex:
    """A secondary index dropped for a first load, to be rebuilt from ``definition``.

    ``definition`` is ``pg_get_indexdef`` output: a complete, schema-qualified ``CREATE INDEX``
    written by the server itself (no ``IF NOT EXISTS``: callers check ``index_name`` first).
    """

    schema_name: str
    table_name: str
    index_name: str
    definition: str


def record_deferred_indexes(conn: psycopg.Connection[Any], indexes: Sequence[DeferredIndex]) -> None:
    """Remember ``indexes`` as dropped; call it in the transaction that drops them."""
    query = sql.SQL(
        "INSERT INTO {} (schema_name, table_name, index_name, definition) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (schema_name, table_name, index_name) DO UPDATE SET definition = EXCLUDED.definition, "
        "deferred_at = now()"
    ).format(_DEFERRED)
    with conn.cursor() as cur:
        cur.executemany(query, [(i.schema_name, i.table_name, i.index_name, i.definition) for i in indexes])


def load_deferred_indexes(conn: psycopg.Connection[Any], schema_name: str, table_name: str) -> list[DeferredIndex]:
    """The indexes recorded as dropped (and not yet rebuilt) for one table, by name."""
    query = sql.SQL(
        "SELECT schema_name, table_name, index_name, definition FROM {} "
        "WHERE schema_name = %s AND table_name = %s ORDER BY index_name"
    ).format(_DEFERRED)
    with conn.cursor() as cur:
        cur.execute(query, (schema_name, table_name))
        return [DeferredIndex(*row) for row in cur.fetchall()]


def clear_deferred_index(conn: psycopg.Connection[Any], index: DeferredIndex) -> None:
    """Forget a recorded index; call it in the transaction that rebuilt it."""
    query = sql.SQL("DELETE FROM {} WHERE schema_name = %s AND table_name = %s AND index_name = %s").format(_DEFERRED)
    with conn.cursor() as cur:
        cur.execute(query, (index.schema_name, index.table_name, index.index_name))


# --------------------------------------------------------------------------- Elasticsearch slices

ES_SLICES_TABLE = "es_slices"
ES_REJECTS_TABLE = "es_rejects"

_ES_SLICES = sql.Identifier(STATE_SCHEMA, ES_SLICES_TABLE)
_ES_REJECTS = sql.Identifier(STATE_SCHEMA, ES_REJECTS_TABLE)

# One row per slice of an Elasticsearch item's copy: the point in time it reads, the sort values
# of the last document committed (search_after), and its counts. Written in each batch's
# transaction, like save_checkpoint. Rejected documents are recorded per id (verify excludes them
# from its missing counts; the primary key makes a re-committed batch harmless).
_ES_DDL = (
    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STATE_SCHEMA)),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
    item_id          text        NOT NULL,
    target_table     text        NOT NULL,
    slice_id         integer     NOT NULL,
    slices           integer     NOT NULL,
    pit_id           text        NOT NULL,
    search_after     jsonb,
    docs_copied      bigint      NOT NULL DEFAULT 0,
    rejected         bigint      NOT NULL DEFAULT 0,
    done             boolean     NOT NULL DEFAULT false,
    plan_fingerprint text        NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, target_table, slice_id)
)"""
    ).format(_ES_SLICES),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
    item_id      text        NOT NULL,
    target_table text        NOT NULL,
    doc_index    text        NOT NULL,
    doc_id       text        NOT NULL,
    field        text        NOT NULL,
    reason       text        NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, target_table, doc_index, doc_id)
)"""
    ).format(_ES_REJECTS),
)


@dataclass(frozen=True, slots=True)
class EsSliceCheckpoint:
    """The persisted progress of one slice of an Elasticsearch item's copy."""

    item_id: str
    target_table: str
    slice_id: int
    slices: int
    pit_id: str
    search_after: list[Any] | None
    docs_copied: int
    rejected: int
    done: bool
    plan_fingerprint: str


@dataclass(frozen=True, slots=True)
class EsReject:
    """A document the copy could not store (the reason names field, column and cause)."""

    doc_index: str
    doc_id: str
    field: str
    reason: str


def ensure_es_state(conn: psycopg.Connection[Any]) -> None:
    """Create the Elasticsearch slice-checkpoint and reject tables if missing (idempotent; commits)."""
    with conn.transaction(), conn.cursor() as cur:
        for stmt in _ES_DDL:
            cur.execute(stmt)


def load_es_slices(conn: psycopg.Connection[Any], item_id: str, target_table: str) -> list[EsSliceCheckpoint]:
    """The slice checkpoints of an item, by slice id (empty when the copy never started)."""
    query = sql.SQL(
        "SELECT item_id, target_table, slice_id, slices, pit_id, search_after, docs_copied, rejected, done, "
        "plan_fingerprint FROM {} WHERE item_id = %s AND target_table = %s ORDER BY slice_id"
    ).format(_ES_SLICES)
    with conn.cursor() as cur:
        cur.execute(query, (item_id, target_table))
        return [
            EsSliceCheckpoint(
                item_id=r[0],
                target_table=r[1],
                slice_id=int(r[2]),
                slices=int(r[3]),
                pit_id=r[4],
                search_after=r[5],
                docs_copied=int(r[6]),
                rejected=int(r[7]),
                done=bool(r[8]),
                plan_fingerprint=r[9],
            )
            for r in cur.fetchall()
        ]


def reset_es_slices(
    conn: psycopg.Connection[Any],
    item_id: str,
    target_table: str,
    *,
    slices: int,
    pit_id: str,
    plan_fingerprint: str = "",
) -> None:
    """Start an item's slices from scratch on ``pit_id`` (and forget its recorded rejects)."""
    from psycopg.types.json import Jsonb

    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE item_id = %s AND target_table = %s").format(_ES_SLICES),
            (item_id, target_table),
        )
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE item_id = %s AND target_table = %s").format(_ES_REJECTS),
            (item_id, target_table),
        )
        cur.executemany(
            sql.SQL(
                "INSERT INTO {} (item_id, target_table, slice_id, slices, pit_id, search_after, plan_fingerprint) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ).format(_ES_SLICES),
            [(item_id, target_table, i, slices, pit_id, Jsonb(None), plan_fingerprint) for i in range(slices)],
        )


def save_es_slice(
    conn: psycopg.Connection[Any],
    item_id: str,
    target_table: str,
    slice_id: int,
    *,
    pit_id: str,
    search_after: list[Any] | None,
    docs_added: int,
    rejected_added: int = 0,
    done: bool = False,
) -> None:
    """Advance one slice; call it inside the batch's transaction (rows and position commit together)."""
    from psycopg.types.json import Jsonb

    query = sql.SQL(
        "UPDATE {} SET pit_id = %s, search_after = %s, docs_copied = docs_copied + %s, "
        "rejected = rejected + %s, done = %s, updated_at = now() "
        "WHERE item_id = %s AND target_table = %s AND slice_id = %s"
    ).format(_ES_SLICES)
    with conn.cursor() as cur:
        cur.execute(
            query, (pit_id, Jsonb(search_after), docs_added, rejected_added, done, item_id, target_table, slice_id)
        )
        if cur.rowcount != 1:
            raise RuntimeError(f"no slice checkpoint row for item {item_id!r} / {target_table!r} slice {slice_id}")


def record_es_rejects(
    conn: psycopg.Connection[Any], item_id: str, target_table: str, rejects: Sequence[EsReject]
) -> None:
    """Record rejected documents; call it in the batch's transaction."""
    if not rejects:
        return
    query = sql.SQL(
        "INSERT INTO {} (item_id, target_table, doc_index, doc_id, field, reason) VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (item_id, target_table, doc_index, doc_id) DO UPDATE SET field = EXCLUDED.field, "
        "reason = EXCLUDED.reason, rejected_at = now()"
    ).format(_ES_REJECTS)
    with conn.cursor() as cur:
        cur.executemany(query, [(item_id, target_table, r.doc_index, r.doc_id, r.field, r.reason) for r in rejects])


def load_es_rejects(conn: psycopg.Connection[Any], item_id: str, target_table: str) -> list[EsReject]:
    """The documents recorded as rejected for an item (empty when none, or the tables do not exist)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{STATE_SCHEMA}.{ES_REJECTS_TABLE}",))
        row = cur.fetchone()
        if not (row and row[0]):
            return []
        cur.execute(
            sql.SQL(
                "SELECT doc_index, doc_id, field, reason FROM {} WHERE item_id = %s AND target_table = %s "
                "ORDER BY doc_index, doc_id"
            ).format(_ES_REJECTS),
            (item_id, target_table),
        )
        return [EsReject(*r) for r in cur.fetchall()]
