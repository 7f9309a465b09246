"""``advisory_lock``: nothing copied, three helper functions named after the target, and its planner."""

from __future__ import annotations

import pytest
from _plan_factories import caps, item

from pgconsolidate import templating
from pgconsolidate.errors import PlanError, UsageError
from pgconsolidate.execute.ddl import render_item_ddl
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings.advisory_lock import LEASE_RECIPE, AdvisoryLock, plan_options
from pgconsolidate.mappings.base import SourceRecord
from pgconsolidate.models import KeyPattern, SizeStats, TTLStats, Usage, UsageKind

LOCK = get_mapping("advisory_lock")
USAGE = Usage(kind=UsageKind.LOCK, confidence=0.9)


def facts(*, redis_type: str = "string", keys: int = 3, with_ttl: int = 3, without_ttl: int = 0) -> KeyPattern:
    """A lock key pattern as the analyzer reports it."""
    return KeyPattern(
        pattern="lock:{name}",
        regex="lock:.+",
        match_glob="lock:*",
        redis_type=redis_type,
        sampled_keys=with_ttl + without_ttl,
        estimated_keys=keys,
        ttl=TTLStats(with_ttl=with_ttl, without_ttl=without_ttl, p50_seconds=12.5 if with_ttl else None),
        memory=SizeStats(count=1, total=80, p50=80, p95=80, max=80),
        value_shapes={"text": with_ttl + without_ttl},
        token_values=with_ttl + without_ttl,
    )


def test_copies_no_data_and_has_no_sweep() -> None:
    assert isinstance(LOCK, AdvisoryLock)
    assert LOCK.copies_data is False
    assert LOCK.columns(item("advisory_lock")) == ()
    assert not templating.has_block("advisory_lock", "sweep")


def test_data_path_methods_refuse_clearly() -> None:
    it = item("advisory_lock", item_id="redis.db0.lock.abc")
    with pytest.raises(UsageError, match=r"^item redis\.db0\.lock\.abc: advisory_lock copies no data"):
        LOCK.to_row(SourceRecord(b"lock:a", b"t", None), it)
    with pytest.raises(UsageError):
        LOCK.read(None, [b"lock:a"], it, 0)


def test_renders_three_functions_named_after_the_target_and_no_table() -> None:
    statements = render_item_ddl(item("advisory_lock", schema="app", table="job_lock"), caps())
    heads = [s.splitlines()[0] for s in statements]
    assert heads == [
        'CREATE OR REPLACE FUNCTION "app"."job_lock_try"(lock_name text)',
        'CREATE OR REPLACE FUNCTION "app"."job_lock_try_xact"(lock_name text)',
        'CREATE OR REPLACE FUNCTION "app"."job_lock_release"(lock_name text)',
    ]
    bodies = [s.split("$pgc$")[1].strip() for s in statements]
    assert bodies == [
        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
        "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
        "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
    ]
    assert not any("TABLE" in s for s in statements)


def test_long_prefix_is_cut_with_a_hash_and_names_stay_distinct() -> None:
    ctx = LOCK.template_context(item("advisory_lock", table="l" * 63), None)
    names = [ctx[k].split('"."')[1].rstrip('"') for k in ("try_function", "try_xact_function", "release_function")]
    assert [len(n.encode()) for n in names] == [63, 63, 63]
    assert [n.rsplit("_", 1)[-1] for n in names] == ["try", "xact", "release"]
    assert len(set(names)) == 3


def test_options_accept_nothing() -> None:
    with pytest.raises(PlanError, match=r"target\.options\.ttl: Extra inputs are not permitted"):
        LOCK.template_context(item("advisory_lock", {"ttl": 30}), None)


def test_plan_migrates_with_live_keys_and_ttl_in_reason_and_notes() -> None:
    choice = plan_options(facts(keys=3), USAGE, caps())
    assert choice.verdict == "migrate" and choice.options == {}
    assert choice.reason.startswith("3 live lock keys seen (TTL p50 12.5s): locks are held by running processes")
    assert choice.notes[0].startswith("3 live lock keys were held at analyze time (TTL p50 12.5s)")
    assert any("crashed process releases it when its connection drops" in n for n in choice.notes)
    assert any("<name>_try_xact releases at COMMIT/ROLLBACK" in n for n in choice.notes)
    assert LEASE_RECIPE in choice.notes


def test_plan_counts_one_key_and_keys_without_ttl() -> None:
    choice = plan_options(
        facts(keys=1, with_ttl=0, without_ttl=1), USAGE.model_copy(update={"library": "redlock"}), caps()
    )
    assert choice.reason.startswith("1 live lock key (redlock) seen (no TTL seen)")
    assert any(n.startswith("1 of 1 sampled lock keys have no TTL") for n in choice.notes)


def test_plan_hash_locks_are_review() -> None:
    choice = plan_options(facts(redis_type="hash"), USAGE, caps())
    assert choice.verdict == "review"
    assert "Redisson" in choice.reason
