"""Unit tests of ``queue_pgmq``: queue names, options, pop order, binary rows, verify forms, planner."""

from __future__ import annotations

import base64
import json
import re
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _plan_factories import caps, item

from pgconsolidate.errors import DataError, PlanError, TargetError
from pgconsolidate.execute.ddl import INSTALLERS, check_statement, installer_name, render_item_ddl
from pgconsolidate.mappings import _members as m
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings.base import SourceRecord
from pgconsolidate.mappings.queue_pgmq import (
    INSTALL_SENTINEL,
    PopOrderChunks,
    QueuePgmq,
    in_pop_order,
    pgmq_sql_script,
    plan_options,
    queue_name_for,
    queue_table,
)
from pgconsolidate.models import KeyPattern, PlanItem, SizeStats, TTLStats, Usage, UsageKind

_REGISTERED = get_mapping("queue_pgmq")
assert isinstance(_REGISTERED, QueuePgmq)
QUEUE: QueuePgmq = _REGISTERED
TYPES = ["timestamp with time zone", "jsonb", "jsonb"]
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def queue_item(payload: str = "text", pop_end: str = "right", name: str = "jobs", **extra: Any) -> PlanItem:
    """A queue_pgmq item for queue ``name`` in pgmq's table."""
    options = {"queue_name": name, "pop_end": pop_end, "payload": payload, "install": "sql", **extra}
    return item("queue_pgmq", options, schema="pgmq", table=f"q_{name}", redis_type="list")


def decode_rows(data: bytes) -> list[list[bytes]]:
    """Binary COPY tuples (as PostgreSQL documents them) -> their fields; nothing may be left over."""
    rows, pos = [], 0
    while pos < len(data):
        (count,) = struct.unpack_from("!h", data, pos)
        pos += 2
        fields = []
        for _ in range(count):
            (length,) = struct.unpack_from("!i", data, pos)
            pos += 4
            fields.append(data[pos : pos + length])
            pos += length
        rows.append(fields)
    assert pos == len(data)
    return rows


def jsonb(field: bytes) -> Any:
    """A binary jsonb field: version byte 1, then JSON text."""
    assert field[:1] == b"\x01"
    return json.loads(field[1:].decode("utf-8"))


def encoded(it: PlanItem, record: SourceRecord) -> list[list[bytes]]:
    run = QUEUE.copy_chunks(it, TYPES)
    assert run is not None
    chunks = list(run(record))
    assert sum(n for _, n in chunks) == len(m.materialize(record.value))
    return decode_rows(b"".join(data for data, _ in chunks))


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("celery", "celery"),
        ("default_queue_2", "default_queue_2"),
        ("rq:queue:default", "rq_queue_default_626a3c"),
        ("bull:emails:wait", "bull_emails_wait_330ab8"),
        (":::", "queue_f1ae2a"),
    ],
)
def test_queue_name_for_is_a_deterministic_slug(key: str, expected: str) -> None:
    assert queue_name_for(key) == expected


def test_queue_names_are_valid_and_distinct() -> None:
    keys = ["rq:queue:a", "rq_queue_a_x", "RQ:QUEUE:A", "q" * 200, "q" * 199 + "r", "émails", "a" * 47, "a" * 48]
    names = [queue_name_for(k) for k in keys]
    assert all(re.fullmatch(r"[a-z0-9_]{1,47}", n) for n in names), names
    assert len(set(names)) == len(names)
    assert queue_name_for("a" * 47) == "a" * 47
    assert len(queue_name_for("a" * 48)) == 47
    assert queue_name_for("rq:queue:a") != queue_name_for("rq_queue_a")  # same slug, the hash differs
    assert queue_table("celery") == "q_celery"


# --------------------------------------------------------------------------- options and DDL


@pytest.mark.parametrize("bad", ["Celery", "a-b", "", "x" * 48, "a;b"])
def test_queue_name_option_is_validated(bad: str) -> None:
    with pytest.raises(PlanError, match=r"target\.options\.queue_name"):
        QUEUE.options(item("queue_pgmq", {"queue_name": bad}, redis_type="list"))


def test_target_must_be_pgmqs_table_of_the_queue() -> None:
    wrong = item("queue_pgmq", {"queue_name": "jobs"}, schema="public", table="jobs", redis_type="list")
    with pytest.raises(PlanError, match=r"pgmq\.q_jobs, not public\.jobs; set schema: pgmq and table: q_jobs"):
        render_item_ddl(wrong, caps())


def test_ddl_installs_then_creates_the_queue() -> None:
    sql_install = render_item_ddl(queue_item(), caps())
    assert sql_install == [INSTALL_SENTINEL, "SELECT pgmq.create('jobs')"]
    ext = render_item_ddl(queue_item(install="extension"), caps())
    assert ext == ["CREATE EXTENSION IF NOT EXISTS pgmq", "SELECT pgmq.create('jobs')"]


def test_installer_step_is_recognised_and_checked() -> None:
    assert installer_name(INSTALL_SENTINEL) == "pgmq"
    assert installer_name("SELECT 1") is None
    check_statement(INSTALL_SENTINEL, what="t")  # accepted without sqlglot
    with pytest.raises(TargetError, match=r"t: unknown installer step: -- pgconsolidate:install nope"):
        check_statement("-- pgconsolidate:install nope (x)", what="t")
    with pytest.raises(TargetError, match="unknown installer step"):  # a second line never rides along
        installer_name("-- pgconsolidate:install pgmq\nDROP TABLE x")
    assert set(INSTALLERS) == {"pgmq"}


def test_packaged_install_script_is_read() -> None:
    version, script = pgmq_sql_script()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert "CREATE FUNCTION pgmq.create_non_partitioned" in script
    assert "CREATE TABLE IF NOT EXISTS pgmq.meta" in script


# --------------------------------------------------------------------------- pop order


def test_pop_order_reverses_for_the_right_end_only() -> None:
    rec = SourceRecord(b"q", [b"a", b"b", b"c"], None)
    assert in_pop_order(rec, "right") == SourceRecord(b"q", [b"c", b"b", b"a"], None)
    assert in_pop_order(rec, "left") is rec
    assert in_pop_order(None, "right") is None
    big = SourceRecord(b"q", m.ChunkedValue(object(), b"q", m.LIST, 25, 10), 123)
    flipped = in_pop_order(big, "right")
    assert flipped is not None and isinstance(flipped.value, PopOrderChunks)
    assert (flipped.value.size, flipped.value.chunk, flipped.expires_at_ms) == (25, 10, 123)
    left = in_pop_order(big, "left")
    assert left is not None and type(left.value) is m.ChunkedValue


# --------------------------------------------------------------------------- rows


def test_binary_rows_match_the_typed_rows_text_payload() -> None:
    it = queue_item("text")
    values = [b"job-1", b'say "hi"\n', "é ünïcode".encode(), b"", b"back\\slash", b"\x1f"]
    record = SourceRecord(b'rq:queue:"x"', values, None)
    before = datetime.now(UTC) - timedelta(seconds=1)
    rows = encoded(it, record)
    typed = list(QUEUE.to_rows(record, it))
    assert len(rows) == len(typed) == len(values)
    for i, (fields, (vt, message, headers)) in enumerate(zip(rows, typed, strict=True)):
        (us,) = struct.unpack("!q", fields[0])
        assert before <= PG_EPOCH + timedelta(microseconds=us) <= datetime.now(UTC)
        assert before <= vt
        assert jsonb(fields[1]) == json.loads(message) == values[i].decode("utf-8")
        assert jsonb(fields[2]) == json.loads(headers) == {"redis_key": 'rq:queue:"x"', "redis_index": i}


def test_binary_rows_json_and_base64_payloads() -> None:
    docs = [b'{"task": "add", "args": [1, 2]}', b"[1, 2.5, null]", b'"str"']
    rows = encoded(queue_item("json"), SourceRecord(b"celery", docs, None))
    assert [fields[1][1:] for fields in rows] == docs  # raw bytes: the server parses them
    blobs = [b"\x00\xff\xfe", b""]
    rows = encoded(queue_item("base64"), SourceRecord(b"bin", blobs, None))
    assert [base64.b64decode(jsonb(fields[1])) for fields in rows] == blobs


def test_pop_positions_continue_across_windows() -> None:
    class Windows(m.ChunkedValue):
        __slots__ = ()

        def __iter__(self) -> Any:
            yield [b"a", b"b"]
            yield [b"c"]

    record = SourceRecord(b"q", Windows(None, b"q", m.LIST, 3, 2), None)
    it = queue_item("text")
    assert [jsonb(f[2])["redis_index"] for f in encoded(it, record)] == [0, 1, 2]
    assert [json.loads(r[2])["redis_index"] for r in QUEUE.to_rows(record, it)] == [0, 1, 2]


def test_column_types_must_be_pgmqs() -> None:
    assert QUEUE.copy_chunks(queue_item(), ["timestamp with time zone", "json", "jsonb"]) is None


@pytest.mark.parametrize(
    ("payload", "key", "value", "message"),
    [
        ("text", b"\xffq", b"x", r"source: key '\\xffq' is not valid UTF-8.*RENAME the list"),
        ("text", b"q\x00", b"x", r"source: key 'q\\x00' contains a NUL byte"),
        ("text", b"q", b"\xff", r"payload: key 'q' has a message that is not valid UTF-8 \(payload text\).*base64"),
        ("text", b"q", b"a\x00b", r"payload: key 'q' has a message with a NUL byte.*set it to base64"),
        ("json", b"q", b"{oops", r"payload: key 'q' has a message that is not valid JSON.*text or base64"),
        ("json", b"q", b"NaN", r"payload: key 'q' has a message that is not valid JSON"),
        ("json", b"q", b'"\\u0000"', r"jsonb rejects; set it to text or base64"),
    ],
)
def test_values_that_do_not_fit_name_key_and_fix(payload: str, key: bytes, value: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        list(QUEUE.to_rows(SourceRecord(key, [b"ok" if payload != "json" else b"1", value], None), queue_item(payload)))


def test_encoder_rejects_keys_jsonb_cannot_hold() -> None:
    with pytest.raises(DataError, match="not valid UTF-8"):
        encoded(queue_item(), SourceRecord(b"\xff", [b"x"], None))


# --------------------------------------------------------------------------- verify forms


def test_canonical_forms_compare_order_and_payload() -> None:
    it = queue_item("json")
    src = QUEUE.canonical_source(SourceRecord(b"q", [b'{"b": 1,  "a": [1]}', b"2"], 99), it)
    assert (src.type_name, src.value, src.expires_at_ms) == ("list", [{"b": 1, "a": [1]}, 2], None)
    assert QUEUE.canonical_target(("q", [{"a": [1], "b": 1}, 2]), it).value == src.value

    text = queue_item("text")
    assert QUEUE.canonical_source(SourceRecord(b"q", [b"x", b"y"], None), text).value == [b"x", b"y"]
    assert QUEUE.canonical_target(("q", ["x", "y"]), text).value == [b"x", b"y"]
    assert QUEUE.canonical_target(("q", [5]), text).value == [5]  # not a string: left as found (differs)

    b64 = queue_item("base64")
    assert QUEUE.canonical_target(("q", [base64.b64encode(b"\xff").decode(), "!!"]), b64).value == [b"\xff", "!!"]


# --------------------------------------------------------------------------- planner


def facts(
    key: str = "celery",
    shapes: dict[str, int] | None = None,
    with_ttl: int = 0,
    max_elements: int = 1200,
) -> KeyPattern:
    return KeyPattern(
        pattern=key,
        regex=re.escape(key),
        match_glob=key,
        redis_type="list",
        sampled_keys=1,
        estimated_keys=1,
        example_keys=[key],
        ttl=TTLStats(with_ttl=with_ttl, without_ttl=1 - with_ttl),
        elements=SizeStats(count=1, total=max_elements, max=max_elements),
        value_shapes=shapes if shapes is not None else {"json_object": 20},
    )


def usage(library: str | None = None, kind: UsageKind = UsageKind.QUEUE, **hints: str) -> Usage:
    return Usage(kind=kind, confidence=0.9, library=library, hints=hints)


def test_plan_celery_queue() -> None:
    choice = plan_options(
        facts(), usage("Celery (kombu)", role="queue", pop_end="right", pop_end_basis="library"), caps()
    )
    assert choice.verdict == "migrate"
    assert choice.options == {"queue_name": "celery", "pop_end": "right", "payload": "json", "install": "sql"}
    assert "work queue 'celery' (Celery (kombu)) (~1,200 messages) -> pgmq queue 'celery' (pgmq.q_celery)" in (
        choice.reason
    )
    text = "\n".join(choice.notes)
    assert "pgmq.read('celery'" in text and "pgmq.pop('celery')" in text
    assert "BRPOP" in text and "pgmq.read_with_poll('celery'" in text
    assert "SQL-only install script" in text
    assert "guess" not in text


def test_plan_rq_queue_with_extension_available() -> None:
    choice = plan_options(
        facts("rq:queue:default", {"text": 30}),
        usage("RQ", role="queue", pop_end="left", pop_end_basis="library"),
        caps(available={"pgmq": "1.5.0"}),
    )
    assert choice.options == {
        "queue_name": "rq_queue_default_626a3c",
        "pop_end": "left",
        "payload": "text",
        "install": "extension",
    }
    assert any("BLPOP" in n for n in choice.notes)
    assert any("CREATE EXTENSION" in n for n in choice.notes)


def test_plan_guessed_end_binary_payload_and_ttl_are_noted() -> None:
    choice = plan_options(
        facts("jobs", {"binary": 2, "text": 8}, with_ttl=1), usage(pop_end="right", pop_end_basis="default"), caps()
    )
    assert choice.options["payload"] == "base64" and choice.options["pop_end"] == "right"
    text = "\n".join(choice.notes)
    assert "pop_end right is a guess" in text
    assert "2 of 10 sampled messages are binary" in text
    assert "TTL" in text
    no_hint = plan_options(facts("jobs", {"integer": 3}), usage(), caps())
    assert no_hint.options["payload"] == "text" and no_hint.options["pop_end"] == "right"
    assert any("guess" in n for n in no_hint.notes)
    rq_without_hint = plan_options(facts("rq:queue:x", {"text": 1}), usage("RQ"), caps())
    assert rq_without_hint.options["pop_end"] == "left"


def test_plan_pattern_of_many_lists_shares_one_queue_and_says_so() -> None:
    many = facts("rq:queue:{name}", {"text": 5}).model_copy(update={"estimated_keys": 12})
    choice = plan_options(many, usage("RQ", pop_end="left", pop_end_basis="library"), caps())
    assert choice.verdict == "migrate"
    assert choice.options["queue_name"] == queue_name_for("rq:queue:{name}")
    assert "(~12 lists, up to 1,200 messages each) -> one pgmq queue" in choice.reason
    assert any("~12 lists share this one queue" in n for n in choice.notes)


def test_plan_processing_list_is_review_not_merged() -> None:
    choice = plan_options(facts("bull:emails:active"), usage("BullMQ", role="processing", pop_end="right"), caps())
    assert choice.verdict == "review"
    assert choice.options == {}
    assert "'bull:emails:active' (BullMQ) holds in-flight messages" in choice.reason
    assert "NOT merged into the queue" in choice.reason


def test_plan_list_that_is_not_a_queue_is_review() -> None:
    choice = plan_options(facts("recent"), usage(kind=UsageKind.UNKNOWN), caps())
    assert choice.verdict == "review" and "not a work queue" in choice.reason
