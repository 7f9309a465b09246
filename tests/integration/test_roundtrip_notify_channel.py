"""Round trip for ``notify_channel``: a listener on one connection receives what the publish function
and the example trigger send from another; oversized payloads fail clearly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.mappings.notify_channel import listen_statement, plan_options
from pgconsolidate.models import PlanItem, RedisChannelSource, TargetSpec, Usage, UsageKind
from pgconsolidate.pg import probe_target
from pgconsolidate.verify import verify_item

CHANNEL = "Orders:Created"  # mixed case and punctuation: only a quoted LISTEN receives it


def channel_item(options: dict[str, Any]) -> PlanItem:
    """A migrate item for the Redis channel, with the planner's options."""
    return PlanItem(
        id="redis.channel.orders-created",
        source=RedisChannelSource(channel=CHANNEL, subscribers=1),
        usage=Usage(kind=UsageKind.PUBSUB, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping="notify_channel", table="orders_events", options=options),
    )


@pytest.fixture
def publisher(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The planner's options for the channel (measured sizes under the limit), the DDL applied;
    then an autocommit session that publishes."""
    with psycopg.connect(pg_url) as c:
        caps = probe_target(c, pg_url)
        choice = plan_options(CHANNEL, 1, Usage(kind=UsageKind.PUBSUB, confidence=1.0), caps, 120)
        assert choice.verdict == "migrate"
        apply_ddl(c, render_item_ddl(channel_item(choice.options), caps))
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


@pytest.fixture
def listener(pg_url: str, publisher: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit session listening on the channel exactly as the plan note says."""
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(listen_statement(CHANNEL))
        yield c


def received(listener: psycopg.Connection[Any], count: int) -> list[tuple[str, str]]:
    """``(channel, payload)`` of the next ``count`` notifications (gives up after 10 s without one)."""
    return [(n.channel, n.payload) for n in listener.notifies(timeout=10, stop_after=count)]


def test_publish_reaches_a_quoted_listener_only(
    pg_url: str, publisher: psycopg.Connection[Any], listener: psycopg.Connection[Any]
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as folded:
        folded.execute("LISTEN Orders_Created")  # unquoted: folds to lower case, another channel
        publisher.execute("SELECT orders_events_publish(%s)", ('{"order": 42, "note": "é ✓"}',))
        publisher.execute("SELECT orders_events_publish(%s)", ("x" * 7999,))  # the largest payload allowed

        assert received(listener, 2) == [(CHANNEL, '{"order": 42, "note": "é ✓"}'), (CHANNEL, "x" * 7999)]
        assert list(folded.notifies(timeout=0.2)) == []


def test_notifications_are_sent_at_commit_not_on_rollback(
    publisher: psycopg.Connection[Any], listener: psycopg.Connection[Any]
) -> None:
    with pytest.raises(ZeroDivisionError), publisher.transaction():
        publisher.execute("SELECT orders_events_publish('rolled back')")
        raise ZeroDivisionError
    with publisher.transaction():
        publisher.execute("SELECT orders_events_publish('committed')")

    assert received(listener, 1) == [(CHANNEL, "committed")]


def test_oversized_payload_raises_a_clear_error(
    publisher: psycopg.Connection[Any], listener: psycopg.Connection[Any]
) -> None:
    payload = "é" * 4500  # 4,500 characters, 9,000 bytes: the limit is in bytes

    with pytest.raises(psycopg.errors.ProgramLimitExceeded) as err:
        publisher.execute("SELECT orders_events_publish(%s)", (payload,))

    assert err.value.diag.message_primary == (
        "NOTIFY payload for channel Orders:Created is 9000 bytes; payloads must be shorter than 8000 bytes"
    )
    assert err.value.diag.message_hint == "publish a row id and let listeners fetch the row"
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        publisher.execute("SELECT orders_events_publish(%s)", ("x" * 8000,))
    assert list(listener.notifies(timeout=0.2)) == []


def test_example_trigger_publishes_the_key_only(
    publisher: psycopg.Connection[Any], listener: psycopg.Connection[Any]
) -> None:
    publisher.execute("CREATE TABLE orders (order_no bigint PRIMARY KEY, body text)")
    publisher.execute(
        "CREATE TRIGGER orders_notify AFTER INSERT OR UPDATE OR DELETE ON orders "
        "FOR EACH ROW EXECUTE FUNCTION orders_events_notify_row('order_no')"
    )
    big = "b" * 20_000  # the row is far over the limit; the notification carries only its key
    publisher.execute("INSERT INTO orders VALUES (7, %s)", (big,))
    publisher.execute("UPDATE orders SET body = 'short' WHERE order_no = 7")
    publisher.execute("DELETE FROM orders WHERE order_no = 7")

    messages = [json.loads(payload) for _, payload in received(listener, 3)]

    assert messages == [
        {"op": op, "schema": "public", "table": "orders", "id": 7} for op in ("INSERT", "UPDATE", "DELETE")
    ]


def test_trigger_default_key_column_is_id(
    publisher: psycopg.Connection[Any], listener: psycopg.Connection[Any]
) -> None:
    publisher.execute("CREATE TABLE items (id text PRIMARY KEY)")
    publisher.execute(
        "CREATE TRIGGER items_notify AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION orders_events_notify_row()"
    )
    publisher.execute("INSERT INTO items VALUES ('sku-1')")

    assert [json.loads(p) for _, p in received(listener, 1)] == [
        {"op": "INSERT", "schema": "public", "table": "items", "id": "sku-1"}
    ]


def test_copy_and_verify_skip_channel_items(redis_client: redis.Redis, publisher: psycopg.Connection[Any]) -> None:
    """Nothing is copied for a channel: copy says skipped, verify has nothing to compare."""
    it = channel_item({"channel": CHANNEL})
    assert copy_item(redis_client, publisher, it).mode == "skipped"
    parity = verify_item(redis_client, publisher, it, full=True)
    assert parity.ok and parity.checked == 0
