"""Deferred secondary indexes on first loads, against real Redis and PostgreSQL 18.

A first load of a large item drops the table's secondary indexes and rebuilds them at the end;
these tests watch the indexes *during* the copy (from another connection, at every batch) and
check that every path - success, crash then ``--resume``, crash then plain re-run - ends with
exactly the indexes the table had before, user-added ones included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.errors import TargetError
from pgconsolidate.execute import state
from pgconsolidate.execute.copy import DEFER_INDEXES_MIN_KEYS, copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item

KEYS = 3000
BATCH = 500

Indexes = dict[str, str]
"""index name -> definition (pg_indexes.indexdef)."""


def make_item(estimated_keys: int) -> PlanItem:
    """A kv_table item for ``k:*`` whose plan estimates ``estimated_keys`` keys."""
    return PlanItem(
        id="redis.db.k",
        source=RedisSource(
            pattern="k:{any}",
            regex="k:.*",
            match_glob="k:*",
            redis_type="string",
            estimated_keys=estimated_keys,
        ),
        usage=Usage(kind=UsageKind.CACHE, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping="kv_table", table="kv", options={}),
        copy_options=CopyOptions(batch_size=BATCH, scan_count=200),
    )


BIG = make_item(DEFER_INDEXES_MIN_KEYS)
SMALL = make_item(DEFER_INDEXES_MIN_KEYS - 1)


@pytest.fixture
def observer(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A second connection, to look at the table while the copy runs."""
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


@pytest.fixture
def seeded(redis_client: redis.Redis) -> redis.Redis:
    """``KEYS`` string keys, a third with a TTL."""
    pipe = redis_client.pipeline(transaction=False)
    for i in range(KEYS):
        pipe.set(f"k:{i:06d}", f"value-{i}", ex=3600 if i % 3 == 0 else None)
    pipe.execute()
    return redis_client


def indexes(c: psycopg.Connection[Any]) -> Indexes:
    """The indexes of public.kv as pg_indexes shows them."""
    rows = c.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'kv'")
    found = {str(name): str(ddl) for name, ddl in rows.fetchall()}
    if not c.autocommit:
        c.rollback()
    return found


def recorded(c: psycopg.Connection[Any]) -> list[str]:
    """Names of the indexes recorded as deferred for public.kv."""
    with c.transaction():
        return [i.index_name for i in state.load_deferred_indexes(c, "public", "kv")]


def row_count(c: psycopg.Connection[Any]) -> int:
    """Rows in public.kv."""
    row = c.execute("SELECT count(*) FROM kv").fetchone()
    if not c.autocommit:
        c.rollback()
    assert row is not None
    return int(row[0])


class Watch:
    """A progress sink that snapshots the table's indexes at every copy batch (and may crash)."""

    class Crash(Exception):
        """The simulated crash."""

    def __init__(self, observer: psycopg.Connection[Any], *, crash_after: int | None = None) -> None:
        self.observer = observer
        self.crash_after = crash_after
        self.seen: list[Indexes] = []
        self.tasks: list[str] = []

    def start(self, task: str, total: int | None) -> None:
        """Remember the task."""
        self.tasks.append(task)

    def advance(self, task: str, amount: int) -> None:
        """Snapshot the indexes after each committed batch of the item; crash when told to."""
        if task != BIG.id:
            return
        self.seen.append(indexes(self.observer))
        if self.crash_after is not None and len(self.seen) >= self.crash_after:
            raise Watch.Crash(f"crash after {len(self.seen)} batches")

    def finish(self, task: str) -> None:
        """Ignore."""


def setup(conn: psycopg.Connection[Any], *extra: str) -> Indexes:
    """Apply the planned DDL plus ``extra`` statements; return the indexes the table then has."""
    apply_ddl(conn, render_item_ddl(BIG, None))
    for stmt in extra:
        conn.execute(stmt.encode())
    conn.commit()
    return indexes(conn)


def test_planned_table_has_pk_and_expiry_index(conn: psycopg.Connection[Any]) -> None:
    before = setup(conn)
    assert len(before) == 2
    assert any("PRIMARY KEY" in d or "UNIQUE" in d for d in before.values())
    assert any("(expires_at)" in d for d in before.values())


def test_first_load_defers_then_leaves_exactly_the_planned_indexes(
    seeded: redis.Redis, conn: psycopg.Connection[Any], observer: psycopg.Connection[Any]
) -> None:
    before = setup(conn)
    primary = {n: d for n, d in before.items() if "UNIQUE" in d}
    watch = Watch(observer)

    result = copy_item(seeded, conn, BIG, progress=watch)

    assert result.mode == "copy" and result.rows == KEYS
    assert len(watch.seen) >= 3
    assert all(snap == primary for snap in watch.seen), "only the primary key during the load"
    assert indexes(conn) == before
    assert recorded(conn) == []
    assert any("rebuild 1 index" in t for t in watch.tasks)
    assert row_count(conn) == KEYS
    report = verify_item(seeded, conn, BIG, full=True)
    assert report.mismatches == []


def test_small_item_keeps_its_indexes(
    seeded: redis.Redis, conn: psycopg.Connection[Any], observer: psycopg.Connection[Any]
) -> None:
    before = setup(conn)
    watch = Watch(observer)

    result = copy_item(seeded, conn, SMALL, progress=watch)

    assert result.mode == "copy" and result.rows == KEYS
    assert watch.seen and all(snap == before for snap in watch.seen)
    assert not any("rebuild" in t for t in watch.tasks)
    assert indexes(conn) == before


USER_INDEXES = (
    "CREATE INDEX kv_value_prefix ON kv (left(value::text, 3)) WHERE expires_at IS NOT NULL",
    "CREATE INDEX kv_value_hash ON kv USING hash (value)",
    "CREATE UNIQUE INDEX kv_key_upper ON kv (upper(key))",
)


def test_user_added_indexes_survive_a_first_load_and_unique_ones_are_never_dropped(
    seeded: redis.Redis, conn: psycopg.Connection[Any], observer: psycopg.Connection[Any]
) -> None:
    before = setup(conn, *USER_INDEXES)
    assert len(before) == 2 + len(USER_INDEXES)
    watch = Watch(observer)

    copy_item(seeded, conn, BIG, progress=watch)

    during = watch.seen[0]
    assert "kv_key_upper" in during and "kv_value_hash" not in during and "kv_value_prefix" not in during
    assert all("UNIQUE" in d for d in during.values())
    assert indexes(conn) == before
    assert recorded(conn) == []


@pytest.mark.parametrize("resume", [True, False], ids=["resume", "plain-rerun"])
def test_crash_after_the_drop_then_rerun_restores_every_index(
    seeded: redis.Redis,
    conn: psycopg.Connection[Any],
    observer: psycopg.Connection[Any],
    resume: bool,
) -> None:
    before = setup(conn, USER_INDEXES[0])
    crashing = Watch(observer, crash_after=2)

    with pytest.raises(Watch.Crash):
        copy_item(seeded, conn, BIG, progress=crashing)
    conn.rollback()

    # The crash left the table without its secondary indexes, but they are on record.
    assert set(indexes(observer)) == {n for n, d in before.items() if "UNIQUE" in d}
    assert sorted(recorded(conn)) == sorted(n for n, d in before.items() if "UNIQUE" not in d)
    assert 0 < row_count(conn) < KEYS

    watch = Watch(observer)
    result = copy_item(seeded, conn, BIG, resume=resume, progress=watch)

    assert result.mode == "upsert" and result.resumed == resume
    assert watch.seen and all(snap == before for snap in watch.seen), "restored before the first batch"
    assert indexes(conn) == before
    assert recorded(conn) == []
    assert row_count(conn) == KEYS


def test_restore_skips_an_index_the_ddl_already_recreated(
    seeded: redis.Redis, conn: psycopg.Connection[Any], observer: psycopg.Connection[Any]
) -> None:
    before = setup(conn, USER_INDEXES[0])
    with pytest.raises(Watch.Crash):
        copy_item(seeded, conn, BIG, progress=Watch(observer, crash_after=1))
    conn.rollback()
    # migrate re-applies the plan's DDL before copying: the planned index is back, by name.
    apply_ddl(conn, render_item_ddl(BIG, None))
    assert len(indexes(conn)) == len(before) - 1

    copy_item(seeded, conn, BIG, resume=True)

    assert indexes(conn) == before
    assert recorded(conn) == []


def test_rerun_on_a_loaded_table_never_drops_indexes(
    seeded: redis.Redis, conn: psycopg.Connection[Any], observer: psycopg.Connection[Any]
) -> None:
    before = setup(conn, USER_INDEXES[0])
    copy_item(seeded, conn, BIG)
    seeded.set("k:new", "fresh")
    watch = Watch(observer)

    result = copy_item(seeded, conn, BIG, progress=watch)

    assert result.mode == "upsert"
    assert watch.seen and all(snap == before for snap in watch.seen)
    assert not any("rebuild" in t for t in watch.tasks)
    assert row_count(conn) == KEYS + 1


def test_a_recorded_index_that_no_longer_applies_is_a_clear_error(
    seeded: redis.Redis, conn: psycopg.Connection[Any]
) -> None:
    setup(conn)
    state.ensure_state(conn)
    with conn.transaction():
        state.record_deferred_indexes(
            conn, [state.DeferredIndex("public", "kv", "kv_gone", "CREATE INDEX kv_gone ON public.kv (no_such_col)")]
        )

    with pytest.raises(TargetError, match="kv_gone") as info:
        copy_item(seeded, conn, BIG)

    assert info.value.hint is not None and "deferred_indexes" in info.value.hint
    assert recorded(conn) == ["kv_gone"], "kept on record until it is rebuilt or forgotten"
