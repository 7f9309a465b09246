"""Query-parity math and query files of the Elasticsearch verify (pure: no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgconsolidate import models
from pgconsolidate.errors import UsageError
from pgconsolidate.es.verify import (
    canonical_equal,
    load_queries,
    mean_recall,
    overlap_at,
    percentile,
    recall_at,
)


def test_overlap_and_recall() -> None:
    es = [f"d{i}" for i in range(10)]
    pg = ["d0", "d1", "x", "d3"] + [f"y{i}" for i in range(20)] + ["d9"]
    assert overlap_at(es, pg) == pytest.approx(3 / 10)
    assert recall_at(es, pg) == pytest.approx(4 / 10)  # d9 is in the PostgreSQL top 50
    assert recall_at(es, pg, depth=10) == pytest.approx(3 / 10)
    assert recall_at(["a", "b"], ["b", "a"]) == 1.0  # fewer than 10 hits: share of what ES returned
    assert overlap_at([], ["a"]) is None and recall_at([], []) is None


def test_percentiles_interpolate() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)


def test_mean_recall_only_counts_gated_queries() -> None:
    rows = [
        models.QueryParity(name="a", query={}, recall_at_10=1.0),
        models.QueryParity(name="b", query={}, recall_at_10=0.5),
        models.QueryParity(name="c", query={}, recall_at_10=0.0, unsupported=["$.query.script: ..."]),
        models.QueryParity(name="d", query={}, error="Elasticsearch answered HTTP 400"),
    ]
    assert mean_recall(rows) == pytest.approx(0.75)
    assert mean_recall(rows[2:]) is None


def test_recall_gate_on_item_parity() -> None:
    base = {"item_id": "i", "table": "t", "source_count": 1, "target_count": 1, "checked": 1}
    assert models.ItemParity(**base, min_recall=0.8, mean_recall_at_10=0.8).ok
    assert not models.ItemParity(**base, min_recall=0.8, mean_recall_at_10=0.79).ok
    assert models.ItemParity(**base, min_recall=0.8, mean_recall_at_10=None).ok  # nothing gated


def test_canonical_equality_tolerances() -> None:
    assert canonical_equal("float4", 0.1, 0.10000000149011612)
    assert not canonical_equal("float8", 0.1, 0.10000000149011612)
    assert canonical_equal("vector", [0.5, 0.25], [0.5, 0.25000001])
    assert canonical_equal("jsonb", {"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1})
    assert not canonical_equal("jsonb", {"a": [1, 2]}, {"a": [2, 1]})
    assert not canonical_equal("int8", None, 0)


def test_load_queries(tmp_path: Path) -> None:
    path = tmp_path / "q.ndjson"
    path.write_text('# comment\n{"query": {"match": {"t": "x"}}}\n\n{"term": {"k": "v"}}\n')
    assert load_queries(path) == [{"query": {"match": {"t": "x"}}}, {"query": {"term": {"k": "v"}}}]
    path.write_text('{"query": \n')
    with pytest.raises(UsageError, match=r"q\.ndjson:1"):
        load_queries(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(UsageError, match="JSON object"):
        load_queries(path)


def test_recall_ignores_arbitrary_picks_among_ties_that_cross_the_depth() -> None:
    from pgconsolidate.es.verify import recall_at, tied_beyond_depth

    es_ids = [f"d{i}" for i in range(50)]
    pg_ids = [f"d{i}" for i in range(100, 150)]  # another arbitrary order of the same 200 equal hits
    flat = [1.0] * 50
    ties = tied_beyond_depth(es_ids, flat, total=200)
    assert ties == frozenset(es_ids[:10])
    assert recall_at(es_ids, pg_ids, ambiguous=ties) is None  # nothing left to judge
    assert recall_at(es_ids, pg_ids) == 0.0  # what a naive recall would (wrongly) gate on

    ranked = [9.0, 8.0, *([1.0] * 48)]
    ties = tied_beyond_depth(es_ids, ranked, total=200)
    assert ties == frozenset(es_ids[2:10])
    assert recall_at(es_ids, ["d0", "d1", *pg_ids], ambiguous=ties) == 1.0
    assert tied_beyond_depth(es_ids, flat, total=50) == frozenset()  # all hits fit: no arbitrary pick
