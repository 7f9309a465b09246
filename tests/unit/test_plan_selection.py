"""Plan.migratable(only): what --only selects, and the errors for ids that select nothing."""

from __future__ import annotations

import pytest
from _plan_factories import item

from pgconsolidate.errors import UsageError
from pgconsolidate.models import Plan, PlanTarget


def _plan() -> Plan:
    a = item("kv_table", item_id="redis.db0.cache-id.aaaaaa", table="a")
    b = item("kv_table", item_id="redis.db0.user-id.bbbbbb", table="b")
    review = item("kv_table", item_id="redis.db0.queue.cccccc", table="c")
    review.verdict = "review"
    return Plan(
        tool_version="0.1.0",
        generated_at="2026-01-01T00:00:00+00:00",
        sources=[],
        target=PlanTarget(server_version="18.1", fingerprint="f" * 16),
        items=[a, b, review],
    )


def test_migratable_without_only_is_every_migrate_item() -> None:
    assert [it.id for it in _plan().migratable()] == ["redis.db0.cache-id.aaaaaa", "redis.db0.user-id.bbbbbb"]


def test_only_narrows() -> None:
    assert [it.id for it in _plan().migratable({"redis.db0.user-id.bbbbbb"})] == ["redis.db0.user-id.bbbbbb"]


def test_typo_suggests_the_closest_id() -> None:
    with pytest.raises(UsageError, match=r"no plan item with id redis\.db0\.user-id\.bbbbbx") as exc:
        _plan().migratable({"redis.db0.user-id.bbbbbx"})
    assert exc.value.hint == "did you mean redis.db0.user-id.bbbbbb?"


def test_review_item_is_refused_with_its_verdict() -> None:
    with pytest.raises(UsageError, match=r"redis\.db0\.queue\.cccccc \(review\)"):
        _plan().migratable({"redis.db0.queue.cccccc"})
