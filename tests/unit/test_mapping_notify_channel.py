"""``notify_channel``: channel option validation, quoting, the publish function text, and its planner."""

from __future__ import annotations

import pytest
from _plan_factories import caps, item

from pgconsolidate import templating
from pgconsolidate.errors import PlanError, UsageError
from pgconsolidate.execute.ddl import render_item_ddl
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings.base import SourceRecord
from pgconsolidate.mappings.notify_channel import (
    NOTIFY_PAYLOAD_LIMIT,
    NotifyChannel,
    is_redis_internal,
    listen_statement,
    plan_options,
)
from pgconsolidate.models import Usage, UsageKind

NOTIFY = get_mapping("notify_channel")
USAGE = Usage(kind=UsageKind.PUBSUB, confidence=0.9)


def test_copies_no_data_and_has_no_sweep() -> None:
    assert isinstance(NOTIFY, NotifyChannel)
    assert NOTIFY.copies_data is False
    assert NOTIFY.redis_types == frozenset({"channel"})
    assert not templating.has_block("notify_channel", "sweep")
    with pytest.raises(UsageError, match="notify_channel copies no data"):
        NOTIFY.to_row(SourceRecord(b"c", b"m", None), item("notify_channel", {"channel": "c"}))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, r"target\.options\.channel: Field required"),
        ({"channel": ""}, r"channel: Value error, a PostgreSQL channel name is 1 to 63 bytes, got 0"),
        ({"channel": "é" * 32}, r"channel: Value error, a PostgreSQL channel name is 1 to 63 bytes, got 64"),
        ({"channel": "a\x00b"}, r"channel: Value error, a PostgreSQL channel name cannot contain a NUL"),
    ],
)
def test_channel_option_is_validated(options: dict[str, str], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        NOTIFY.template_context(item("notify_channel", options), None)


def test_publish_function_checks_the_byte_limit_and_quotes_the_channel() -> None:
    publish, notify_row = render_item_ddl(
        item("notify_channel", {"channel": "it's Mixed"}, schema="app", table="ev"), caps()
    )
    assert publish.splitlines()[0] == 'CREATE OR REPLACE FUNCTION "app"."ev_publish"(payload text)'
    assert f"IF octet_length(payload) >= {NOTIFY_PAYLOAD_LIMIT} THEN" in publish
    assert "PERFORM pg_notify('it''s Mixed', payload);" in publish
    assert notify_row.splitlines()[:2] == [
        'CREATE OR REPLACE FUNCTION "app"."ev_notify_row"()',
        "RETURNS pg_catalog.trigger",
    ]
    assert 'PERFORM "app"."ev_publish"(json_build_object(' in notify_row


def test_listen_statement_quotes_case_and_punctuation() -> None:
    assert listen_statement("Orders:Created") == 'LISTEN "Orders:Created"'
    assert listen_statement('a"b') == 'LISTEN "a""b"'


@pytest.mark.parametrize(
    ("channel", "internal"),
    [
        ("__keyspace@0__:user:1", True),
        ("__keyevent@0__:expired", True),
        ("__redis__:invalidate", True),
        ("keyspace:news", False),
        ("orders", False),
    ],
)
def test_redis_internal_channels(channel: str, internal: bool) -> None:
    assert is_redis_internal(channel) is internal


def test_plan_keyspace_notifications_are_kept() -> None:
    choice = plan_options("__keyspace@0__:*", 2, USAGE, caps(), None)
    assert choice.verdict == "keep" and choice.options == {}
    assert choice.reason.startswith("'__keyspace@0__:*' is a Redis-internal channel")


def test_plan_measured_small_payloads_migrate_with_the_listen_note() -> None:
    choice = plan_options("Orders:Created", 3, USAGE, caps(), 7999)
    assert choice.verdict == "migrate"
    assert choice.options == {"channel": "Orders:Created"}
    assert choice.reason == (
        "'Orders:Created' (3 subscribers) -> LISTEN/NOTIFY: largest observed message 7,999 bytes, "
        "under the 8,000-byte NOTIFY limit"
    )
    assert choice.notes[0].startswith('subscribers run `LISTEN "Orders:Created"`')
    assert any("CREATE TRIGGER" in n and "EXECUTE FUNCTION <name>_notify_row('id')" in n for n in choice.notes)
    assert not any("subscriber was connected" in n for n in choice.notes)


def test_plan_payloads_at_the_limit_are_kept_with_the_numbers() -> None:
    choice = plan_options("blobs", 1, USAGE, caps(), 8000)
    assert choice.verdict == "keep"
    assert choice.reason.startswith(
        "the largest message observed on 'blobs' is 8,000 bytes; NOTIFY payloads must be under 8,000 bytes"
    )


def test_plan_unmeasured_payloads_are_review() -> None:
    choice = plan_options("news", 0, USAGE, caps(), None)
    assert choice.verdict == "review"
    assert choice.notes[0] == "payload sizes not measured"
    assert "no subscriber was connected at analyze time" in choice.notes
    assert choice.reason.startswith("'news' (0 subscribers) maps to LISTEN/NOTIFY, but message sizes were not measured")
    assert choice.options == {"channel": "news"}


def test_plan_renames_a_channel_longer_than_63_bytes() -> None:
    long = "events:" + "x" * 70
    choice = plan_options(long, 1, USAGE, caps(), 10)
    renamed = choice.options["channel"]
    assert len(renamed.encode()) == 63 and renamed != long[:63]
    assert choice.notes[0].startswith("the Redis channel name is 77 bytes")
    assert f"renamed to '{renamed}'" in choice.notes[0]
    assert NOTIFY.Options.model_validate(choice.options).model_dump() == choice.options
