"""Unit: usage classification of Elasticsearch indices and keep reasons (pure, on mapping JSON fixtures)."""

from __future__ import annotations

from typing import Any

import pytest

from pgconsolidate.es.analyze import analyzer_fit, flatten_mapping, text_analyzers
from pgconsolidate.es.classify import AGG_MIN_QUERIES, MAX_DOCS, aggregation_share, classify_index, keep_reason
from pgconsolidate.models import UsageKind
from pgconsolidate.models_es import EsAlias, EsIndexFacts


def facts(
    mapping: dict[str, Any], settings: dict[str, Any] | None = None, *, name: str = "idx", **extra: Any
) -> EsIndexFacts:
    """Facts the way the analyzer builds them from ``GET <index>`` (mapping + settings)."""
    settings = settings or {}
    fields, info = flatten_mapping(mapping)
    analyzers = [analyzer_fit(a, settings) for a in text_analyzers(fields, settings)]
    base: dict[str, Any] = {
        "name": name,
        "indices": [name],
        "fields": fields,
        "analyzers": analyzers,
        "source_enabled": info.source_enabled,
        "runtime_fields": info.runtime_fields or {},
        "docs_count": 1_000,
    }
    base.update(extra)
    return EsIndexFacts(**base)


ARTICLES = {
    "properties": {
        "title": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "body": {"type": "text"},
        "tags": {"type": "keyword"},
        "published_at": {"type": "date"},
    }
}
LOGS = {"properties": {"@timestamp": {"type": "date"}, "message": {"type": "text"}, "level": {"type": "keyword"}}}


def details(usage_evidence: list[Any]) -> str:
    return " | ".join(e.detail for e in usage_evidence)


def test_full_text_with_evidence_numbers() -> None:
    usage = classify_index(facts(ARTICLES, docs_count=12_345))
    assert usage.kind is UsageKind.FULL_TEXT
    text = details(usage.evidence)
    assert "12,345 documents" in text
    assert "2 analyzed text field(s) (title, body)" in text
    assert "standard -> 'simple'" in text
    assert "keep" not in usage.hints


def test_keyword_lookup_when_no_text() -> None:
    mapping = {"properties": {"sku": {"type": "keyword"}, "price": {"type": "double"}, "stock": {"type": "integer"}}}
    usage = classify_index(facts(mapping))
    assert usage.kind is UsageKind.KEYWORD_LOOKUP
    assert "3 keyword/numeric/date field(s) (sku, price, stock)" in details(usage.evidence)


def test_date_family_with_time_field_is_log_timeseries() -> None:
    members = ["logs-2026.12.01", "logs-2026.12.02", "logs-2026.12.03"]
    f = facts(LOGS, name="logs-{date}", indices=members, family=True, family_period="day", time_field="@timestamp")
    usage = classify_index(f)
    assert usage.kind is UsageKind.LOG_TIMESERIES
    assert usage.hints["also"] == "full_text"
    assert usage.hints["time_field"] == "@timestamp"
    assert "3 day-suffixed indices (logs-2026.12.01 .. logs-2026.12.03)" in details(usage.evidence)


def test_single_index_with_timestamp_is_not_a_log_family() -> None:
    usage = classify_index(facts(LOGS, time_field="@timestamp"))
    assert usage.kind is UsageKind.FULL_TEXT


def test_data_stream_is_log_timeseries_with_higher_confidence() -> None:
    f = facts(LOGS, name="logs-app", data_stream="logs-app", family=True, time_field="@timestamp")
    usage = classify_index(f)
    assert usage.kind is UsageKind.LOG_TIMESERIES
    family_conf = classify_index(facts(LOGS, family=True, time_field="@timestamp")).confidence
    assert usage.confidence > family_conf


def test_dense_vector_is_vector_search_and_text_is_also_listed() -> None:
    mapping = {**ARTICLES, "properties": {**ARTICLES["properties"], "vec": {"type": "dense_vector", "dims": 768}}}
    usage = classify_index(facts(mapping))
    assert usage.kind is UsageKind.VECTOR_SEARCH
    assert usage.hints["also"] == "full_text"
    assert "dense_vector vec: 768 dims, cosine similarity" in details(usage.evidence)


def test_geo_point_only() -> None:
    usage = classify_index(facts({"properties": {"loc": {"type": "geo_point"}, "name": {"type": "keyword"}}}))
    assert usage.kind is UsageKind.GEO
    assert "geo_point field loc" in details(usage.evidence)


def test_empty_mapping_is_unknown() -> None:
    assert classify_index(facts({})).kind is UsageKind.UNKNOWN


def test_keyword_analyzer_text_is_not_full_text() -> None:
    usage = classify_index(facts({"properties": {"code": {"type": "text", "analyzer": "keyword"}}}))
    assert usage.kind is UsageKind.KEYWORD_LOOKUP
    assert "1 keyword/numeric/date field(s) (code)" in details(usage.evidence)


def test_edge_ngram_sets_the_trigram_hint_and_gap_evidence() -> None:
    settings = {
        "index": {
            "analysis": {
                "analyzer": {"ac": {"tokenizer": "standard", "filter": ["lowercase", "edge"]}},
                "filter": {"edge": {"type": "edge_ngram", "min_gram": 1, "max_gram": 10}},
            }
        }
    }
    usage = classify_index(facts({"properties": {"name": {"type": "text", "analyzer": "ac"}}}, settings))
    assert usage.kind is UsageKind.FULL_TEXT
    assert usage.hints["partial_match"] == "pg_trgm"
    assert "analyzer ac: edge_ngram edge: fuzzy/partial matching: pg_trgm index" in details(usage.evidence)


def test_filtered_alias_and_conflicts_in_evidence() -> None:
    alias = EsAlias(name="recent", indices=["idx"], filter={"range": {"x": {"gte": 1}}}, is_write_index=True)
    usage = classify_index(
        facts(ARTICLES, aliases=[alias], field_conflicts=["status: long (2 indexes), keyword (1 index)"])
    )
    text = details(usage.evidence)
    assert "filtered alias recent -> 1 index(es), write index" in text
    assert "members disagree on status: long" in text


# --------------------------------------------------------------------------- keep reasons


def test_no_keep_reason_for_a_plain_index() -> None:
    assert keep_reason(facts(ARTICLES)) is None


def test_keep_above_100m_documents() -> None:
    reason = keep_reason(facts(ARTICLES, docs_count=MAX_DOCS + 1))
    assert reason is not None and "100,000,001 documents" in reason


def test_keep_percolator() -> None:
    reason = keep_reason(facts({"properties": {"query": {"type": "percolator"}}}))
    assert reason is not None and "percolator field query" in reason
    usage = classify_index(facts({"properties": {"query": {"type": "percolator"}}}))
    assert usage.hints["keep"] == reason


def test_keep_names_the_filter_without_equivalent() -> None:
    settings = {
        "index": {
            "analysis": {
                "analyzer": {"names": {"tokenizer": "standard", "filter": ["lowercase", "dm"]}},
                "filter": {"dm": {"type": "phonetic", "encoder": "double_metaphone"}},
            }
        }
    }
    reason = keep_reason(facts({"properties": {"n": {"type": "text", "analyzer": "names"}}}, settings))
    assert reason == "analyzer names: phonetic dm: no PostgreSQL text search equivalent"


def test_fixable_gaps_are_not_keep_reasons() -> None:
    settings = {
        "index": {
            "analysis": {"analyzer": {"folded": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}
        }
    }
    assert keep_reason(facts({"properties": {"n": {"type": "text", "analyzer": "folded"}}}, settings)) is None


def test_keep_runtime_fields_and_disabled_source() -> None:
    mapping = {
        "_source": {"enabled": False},
        "runtime": {"dow": {"type": "keyword", "script": "emit('x')"}},
        "properties": {"a": {"type": "keyword"}},
    }
    reason = keep_reason(facts(mapping))
    assert reason is not None
    assert "runtime field(s) dow" in reason
    assert "_source is disabled" in reason


@pytest.mark.parametrize(
    ("stats", "share"),
    [
        ({"query_total": AGG_MIN_QUERIES - 1, "fetch_total": 0}, None),
        ({"query_total": 20_000, "fetch_total": 20_000}, 0.0),
        ({"query_total": 20_000, "fetch_total": 1_000}, 0.95),
    ],
)
def test_aggregation_share(stats: dict[str, int], share: float | None) -> None:
    assert aggregation_share(stats) == share


def test_aggregation_heavy_large_index_is_kept_small_one_is_not() -> None:
    stats = {"query_total": 50_000, "fetch_total": 2_500, "index_total": 0}
    big = keep_reason(facts(ARTICLES, docs_count=20_000_000, search_stats=stats))
    assert big is not None and "aggregation-heavy: 95% of 50,000 searches" in big
    assert keep_reason(facts(ARTICLES, docs_count=5_000, search_stats=stats)) is None
    usage = classify_index(facts(ARTICLES, search_stats=stats))
    assert "50,000 queries, 2,500 fetches, fetch/query 0.05" in details(usage.evidence)
