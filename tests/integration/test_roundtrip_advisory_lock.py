"""Round trip for ``advisory_lock``: nothing is copied; the helper functions really lock across sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item

ITEM = PlanItem(
    id="redis.db.locks",
    source=RedisSource(pattern="lock:{name}", regex=r"lock:.+", match_glob="lock:*", redis_type="string"),
    usage=Usage(kind=UsageKind.LOCK, confidence=1.0),
    verdict="migrate",
    reason="test",
    target=TargetSpec(mapping="advisory_lock", table="app_lock"),
)


@pytest.fixture
def first(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The DDL applied, then an autocommit session (one process of the application)."""
    with psycopg.connect(pg_url) as c:
        apply_ddl(c, render_item_ddl(ITEM, None))
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


@pytest.fixture
def second(pg_url: str, first: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """Another autocommit session (another process)."""
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


def call(c: psycopg.Connection[Any], function: str, lock_name: str) -> bool:
    """``SELECT <function>(lock_name)``."""
    row = c.execute(f"SELECT {function}(%s)", (lock_name,)).fetchone()  # function: a fixed name from this test
    assert row is not None
    return bool(row[0])


def test_ddl_creates_functions_and_no_table(first: psycopg.Connection[Any]) -> None:
    functions = first.execute(
        "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY proname"
    ).fetchall()
    tables = first.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone()

    assert functions == [("app_lock_release",), ("app_lock_try",), ("app_lock_try_xact",)]
    assert tables == (0,)


def test_session_lock_excludes_other_sessions_until_released(
    first: psycopg.Connection[Any], second: psycopg.Connection[Any]
) -> None:
    assert call(first, "app_lock_try", "job:nightly-report")
    assert not call(second, "app_lock_try", "job:nightly-report")  # held by the first session
    assert call(second, "app_lock_try", "job:other")  # another name is another lock
    assert call(first, "app_lock_try", "job:nightly-report")  # re-entrant for its holder

    assert call(first, "app_lock_release", "job:nightly-report")
    assert not call(second, "app_lock_try", "job:nightly-report")  # still held once
    assert call(first, "app_lock_release", "job:nightly-report")
    assert call(second, "app_lock_try", "job:nightly-report")  # free now
    assert not call(first, "app_lock_try_xact", "job:nightly-report")  # the xact variant sees the same lock


def test_session_lock_goes_with_its_connection(pg_url: str, second: psycopg.Connection[Any]) -> None:
    holder = psycopg.connect(pg_url, autocommit=True)
    holder_pid = holder.info.backend_pid
    assert call(holder, "app_lock_try", "job:crashy")
    assert not call(second, "app_lock_try", "job:crashy")

    holder.close()  # the process died: its backend ends and releases the lock
    # The backend exits asynchronously after the socket closes: wait for it (bounded; nothing timed).
    for _ in range(1000):
        if second.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (holder_pid,)).fetchone() == (0,):
            break
        second.execute("SELECT pg_sleep(0.01)")

    assert call(second, "app_lock_try", "job:crashy")


def test_xact_lock_is_released_at_commit(first: psycopg.Connection[Any], second: psycopg.Connection[Any]) -> None:
    with first.transaction():
        assert call(first, "app_lock_try_xact", "job:import")
        assert not call(second, "app_lock_try_xact", "job:import")
        assert not call(second, "app_lock_try", "job:import")
    # COMMIT released it: nothing to release by hand.
    assert call(second, "app_lock_try_xact", "job:import")  # (autocommit: released again at once)
    assert call(second, "app_lock_try", "job:import")

    with pytest.raises(ZeroDivisionError), first.transaction():
        assert call(first, "app_lock_try_xact", "job:rollback")
        raise ZeroDivisionError  # any failure: ROLLBACK releases it too
    assert call(second, "app_lock_try_xact", "job:rollback")


def test_release_of_a_lock_not_held_is_false(first: psycopg.Connection[Any]) -> None:
    assert not call(first, "app_lock_release", "job:never-taken")
    assert first.execute("SELECT app_lock_try(NULL)").fetchone() == (None,)  # STRICT: no lock on NULL


def test_copy_and_verify_skip_and_write_nothing(redis_client: redis.Redis, first: psycopg.Connection[Any]) -> None:
    redis_client.set("lock:job:nightly", "9f2c6b1e-token", nx=True, px=30_000)
    redis_client.set("lock:job:import", "0a1b2c3d-token", nx=True, px=30_000)

    result = copy_item(redis_client, first, ITEM)
    parity = verify_item(redis_client, first, ITEM, full=True)

    assert (result.mode, result.rows) == ("skipped", 0)
    assert parity.ok and parity.checked == 0 and parity.source_count == 0
    relations = first.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone()
    assert relations == (0,)
    assert first.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconsolidate'").fetchone() == (0,)
    assert redis_client.get("lock:job:nightly") == b"9f2c6b1e-token"  # Redis untouched
