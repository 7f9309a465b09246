"""Pure comparison helpers of the parity engine: canonical equality, TTL tolerance, sampling, redaction."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from pgconsolidate.mappings.base import Canonical
from pgconsolidate.verify import (
    MISMATCH_KINDS,
    REDACTED_VALUE,
    Reservoir,
    compare_canonical,
    empty_counts,
    preview,
    ttl_mismatch,
    values_equal,
)


def test_json_key_order_does_not_matter() -> None:
    a = {"b": 1, "a": {"y": [1, {"q": 2, "p": 3}], "x": None}}
    b = {"a": {"x": None, "y": [1, {"p": 3, "q": 2}]}, "b": 1}
    assert values_equal(a, b)


def test_structural_differences_are_found() -> None:
    assert not values_equal({"a": 1}, {"a": 1, "b": 2})
    assert not values_equal([1, 2], [2, 1])
    assert not values_equal({"a": "1"}, {"a": 1})
    assert not values_equal(b"abc", "abc")


def test_numbers() -> None:
    assert values_equal(0.1 + 0.2, 0.3)
    assert values_equal(3, 3.0)
    assert not values_equal(1.0, 1.001)
    assert not values_equal(2**63 - 1, 2**63 - 2)
    assert not values_equal(True, 1) and not values_equal(0, False)
    assert values_equal(float("nan"), float("nan"))


def test_bytes_like_values_compare_by_content() -> None:
    assert values_equal(b"\x00\xff", bytearray(b"\x00\xff"))
    assert values_equal(memoryview(b"xy"), b"xy")
    assert not values_equal(b"xy", b"xz")


def test_ttl_tolerance() -> None:
    assert ttl_mismatch(None, None, 5) is None
    assert ttl_mismatch(1_000_000, 1_004_999, 5) is None
    assert ttl_mismatch(1_000_000, 1_005_000, 5) is None
    assert "differ by 5.0s" in (ttl_mismatch(1_000_000, 1_005_001, 5) or "")
    assert ttl_mismatch(1_000_000, 1_000_001, 0) is not None
    assert "target has an expiry" in (ttl_mismatch(None, 1, 5) or "")
    assert "source has an expiry" in (ttl_mismatch(1, None, 5) or "")


def test_compare_canonical_kinds() -> None:
    src = Canonical("string", {"a": 1}, 10_000)
    assert compare_canonical(src, Canonical("string", {"a": 1}, 12_000), ttl_tolerance_seconds=5) == []
    assert [k for k, _ in compare_canonical(src, Canonical("hash", {"a": 1}, 10_000), ttl_tolerance_seconds=5)] == [
        "type"
    ]
    both = compare_canonical(src, Canonical("string", {"a": 2}, None), ttl_tolerance_seconds=5)
    assert [k for k, _ in both] == ["value", "ttl"]


def test_reservoir_is_seeded_and_bounded() -> None:
    keys = [f"k{i}".encode() for i in range(10_000)]
    a, b, c = Reservoir(50, 1), Reservoir(50, 1), Reservoir(50, 2)
    for r in (a, b, c):
        for i in range(0, len(keys), 333):  # fed in uneven chunks, like SCAN batches
            r.add(keys[i : i + 333])
    assert a.items == b.items and a.items != c.items
    assert len(a.items) == 50 and len(set(a.items)) == 50 and a.seen == 10_000


def test_reservoir_is_roughly_uniform() -> None:
    hits: Counter[int] = Counter()
    for seed in range(400):
        r = Reservoir(10, seed)
        r.add(i.to_bytes(2, "big") for i in range(100))
        hits.update(int.from_bytes(k, "big") // 10 for k in r.items)
    # 4,000 picks over 10 deciles: each ~400; a sampler biased to the head or the tail fails this.
    assert all(300 < hits[d] < 500 for d in range(10)), hits


def test_reservoir_smaller_stream_keeps_everything() -> None:
    r = Reservoir(100, 0)
    r.add([b"a", b"b"])
    assert r.items == [b"a", b"b"]
    empty = Reservoir(0, 0)
    empty.add([b"a"])
    assert empty.items == [] and empty.seen == 1


def test_preview_redacts_unless_asked() -> None:
    assert preview(b"secret", False) == REDACTED_VALUE
    assert preview(b"secret\xff", True) == "secret\\xff"
    assert preview({"a": 1}, True) == "{'a': 1}"
    assert len(preview("x" * 1000, True)) == 200


def test_empty_counts_lists_every_kind() -> None:
    assert empty_counts() == {"missing": 0, "extra": 0, "type": 0, "value": 0, "ttl": 0}
    assert tuple(empty_counts()) == MISMATCH_KINDS


def test_sql_ttl_filter_slack_never_hides_a_python_ttl_mismatch() -> None:
    # The SQL filter compares microsecond expiries against tolerance - slack; the Python check
    # floors the target to milliseconds. Whatever the filter lets through as "same" must be the same
    # for ttl_mismatch too, at the boundary and for odd tolerances.
    from pgconsolidate.mappings._common import datetime_to_ms, ms_to_datetime
    from pgconsolidate.verify import _TTL_SLACK_SECONDS

    source_ms = 1_780_000_000_123
    source = ms_to_datetime(source_ms)
    assert source is not None
    for tolerance in (0.0, 0.5, 1.0, 5.0, 2.7):
        limit_us = round((tolerance - _TTL_SLACK_SECONDS) * 1_000_000)
        for offset_us in (limit_us, limit_us - 1, limit_us - 999, -limit_us, -limit_us + 1, -limit_us + 999, 0):
            if abs(offset_us) > limit_us:
                continue  # the filter flags it: Python decides
            target = source + timedelta(microseconds=offset_us)
            assert ttl_mismatch(source_ms, datetime_to_ms(target), tolerance) is None, (tolerance, offset_us)
