"""Unit: analyzer -> PostgreSQL text search fit, mapping flattening, time-based families (pure).

The test Elasticsearch (integ-test distribution) has no analysis-common module, so the
``english`` analyzer, stemmer, lowercase/asciifolding/synonym/ngram filters cannot be created
there: these tests run :func:`analyzer_fit` on settings JSON exactly as ``GET <index>`` returns it.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgconsolidate.es.analyze import (
    PG_TS_CONFIGS,
    analyzer_fit,
    family_of,
    flatten_mapping,
    group_families,
    merge_fields,
    pick_time_field,
    text_analyzers,
)
from pgconsolidate.models_es import EsField


def _settings(**analysis: Any) -> dict[str, Any]:
    """Index settings shaped like ``GET <index>`` returns them."""
    return {"index": {"number_of_shards": "1", "analysis": analysis}}


# --------------------------------------------------------------------------- built-in analyzers


@pytest.mark.parametrize(
    ("analyzer", "config"),
    [
        ("english", "english"),
        ("french", "french"),
        ("german", "german"),
        ("spanish", "spanish"),
        ("russian", "russian"),
        ("swedish", "swedish"),
        ("turkish", "turkish"),
        ("brazilian", "portuguese"),
        ("standard", "simple"),
        ("simple", "simple"),
    ],
)
def test_builtin_analyzers_map_to_the_matching_configuration(analyzer: str, config: str) -> None:
    fit = analyzer_fit(analyzer)
    assert fit.ts_config == config
    assert config in PG_TS_CONFIGS
    assert fit.no_equivalent == []


def test_language_without_a_postgresql_configuration_is_a_blocking_gap() -> None:
    fit = analyzer_fit("czech")
    assert fit.ts_config == "simple"
    assert fit.language == "czech"
    assert any("czech" in g for g in fit.no_equivalent)


def test_keyword_analyzer_is_not_full_text() -> None:
    fit = analyzer_fit("keyword")
    assert fit.ts_config is None
    assert any("btree" in g for g in fit.gaps)


def test_whitespace_analyzer_names_the_case_sensitivity_gap() -> None:
    fit = analyzer_fit("whitespace")
    assert fit.ts_config == "simple"
    assert any("case-sensitive" in g for g in fit.gaps)


def test_parameterised_english_with_stem_exclusion() -> None:
    settings = _settings(analyzer={"my_en": {"type": "english", "stem_exclusion": ["organization"]}})
    fit = analyzer_fit("my_en", settings)
    assert fit.type == "english"
    assert fit.ts_config == "english"
    assert any("stem_exclusion" in g for g in fit.no_equivalent)


def test_unknown_plugin_analyzer_has_no_equivalent() -> None:
    fit = analyzer_fit("kuromoji")
    assert fit.no_equivalent and "kuromoji" in fit.no_equivalent[0]


# --------------------------------------------------------------------------- custom analyzers


def test_custom_english_stemmer_chain() -> None:
    settings = _settings(
        analyzer={"body_en": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "en_stem", "stop"]}},
        filter={"en_stem": {"type": "stemmer", "language": "light_english"}},
    )
    fit = analyzer_fit("body_en", settings)
    assert (fit.ts_config, fit.language, fit.tokenizer) == ("english", "english", "standard")
    assert fit.filters == ["lowercase", "en_stem", "stop"]
    assert fit.gaps == []


@pytest.mark.parametrize(
    ("filter_def", "config"),
    [
        ({"type": "snowball", "language": "English"}, "english"),
        ({"type": "snowball", "language": "Dutch"}, "dutch"),
        ({"type": "stemmer", "language": "porter2"}, "english"),
        ({"type": "stemmer", "name": "minimal_portuguese"}, "portuguese"),
        ({"type": "stemmer", "language": "german2"}, "german"),
        ({"type": "porter_stem"}, "english"),
    ],
)
def test_stemmer_languages(filter_def: dict[str, Any], config: str) -> None:
    settings = _settings(
        analyzer={"a": {"tokenizer": "standard", "filter": ["lowercase", "st"]}},
        filter={"st": filter_def},
    )
    assert analyzer_fit("a", settings).ts_config == config


def test_asciifolding_and_synonyms_are_gaps_with_the_fix_named() -> None:
    settings = _settings(
        analyzer={
            "folded": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding", "my_syn", "porter_stem"],
            }
        },
        filter={"my_syn": {"type": "synonym_graph", "synonyms": ["pg, postgres, postgresql"]}},
    )
    fit = analyzer_fit("folded", settings)
    assert fit.ts_config == "english"
    assert "asciifolding: needs the unaccent extension (a custom text search configuration)" in fit.gaps
    assert "synonyms (synonym_graph my_syn): needs a thesaurus/synonym dictionary file on the server" in fit.gaps
    assert fit.no_equivalent == []  # both need setup, neither is impossible


def test_edge_ngram_autocomplete_is_partial_match_intent() -> None:
    settings = _settings(
        analyzer={"autocomplete": {"tokenizer": "standard", "filter": ["lowercase", "ac_edge"]}},
        filter={"ac_edge": {"type": "edge_ngram", "min_gram": 2, "max_gram": 15}},
    )
    fit = analyzer_fit("autocomplete", settings)
    assert fit.partial_match
    assert "edge_ngram ac_edge: fuzzy/partial matching: pg_trgm index" in fit.gaps
    assert fit.ts_config == "simple"


def test_ngram_tokenizer_on_keyword_values() -> None:
    settings = _settings(
        analyzer={"grams": {"tokenizer": "tri"}},
        tokenizer={"tri": {"type": "ngram", "min_gram": 3, "max_gram": 3}},
    )
    fit = analyzer_fit("grams", settings)
    assert fit.partial_match
    assert any(g.startswith("tokenizer ngram tri") for g in fit.gaps)


def test_pattern_tokenizer_and_phonetic_filter_have_no_equivalent() -> None:
    settings = _settings(
        analyzer={"codes": {"tokenizer": "split_dash", "filter": ["lowercase", "sounds"]}},
        tokenizer={"split_dash": {"type": "pattern", "pattern": "-"}},
        filter={"sounds": {"type": "phonetic", "encoder": "metaphone"}},
    )
    fit = analyzer_fit("codes", settings)
    blocking = " | ".join(fit.no_equivalent)
    assert "pattern split_dash" in blocking
    assert "phonetic sounds" in blocking


def test_custom_stop_word_list_needs_a_file_and_missing_lowercase_is_noted() -> None:
    settings = _settings(
        analyzer={"a": {"tokenizer": "whitespace", "filter": ["my_stop"], "char_filter": ["html_strip", "emoji"]}},
        filter={"my_stop": {"type": "stop", "stopwords": ["foo", "bar"]}},
        char_filter={"emoji": {"type": "mapping", "mappings": [":) => happy"]}},
    )
    fit = analyzer_fit("a", settings)
    text = " | ".join(fit.gaps)
    assert "custom stop words (2)" in text
    assert "no lowercase filter" in text
    assert "char_filter mapping emoji" in text
    assert "html_strip" not in text  # the default parser already skips HTML tags
    assert fit.char_filters == ["html_strip", "emoji"]


def test_default_analyzer_applies_to_text_fields_without_one() -> None:
    settings = _settings(analyzer={"default": {"type": "english"}})
    fields, _ = flatten_mapping(
        {"properties": {"a": {"type": "text"}, "b": {"type": "text", "analyzer": "simple", "search_analyzer": "stop"}}}
    )
    assert text_analyzers(fields, settings) == ["default", "simple", "stop"]
    assert analyzer_fit("default", settings).ts_config == "english"
    assert text_analyzers(fields, {}) == ["standard", "simple", "stop"]


# --------------------------------------------------------------------------- mappings

ARTICLE_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_source": {"excludes": ["embedding"]},
    "runtime": {"day_of_week": {"type": "keyword", "script": {"source": "emit('x')"}}},
    "properties": {
        "title": {"type": "text", "copy_to": "all_text", "fields": {"raw": {"type": "keyword", "ignore_above": 256}}},
        "all_text": {"type": "text"},
        "author": {"properties": {"name": {"type": "keyword"}, "Address": {"properties": {"city": {"type": "text"}}}}},
        "comments": {"type": "nested", "properties": {"user": {"type": "keyword"}, "text": {"type": "text"}}},
        "embedding": {"type": "dense_vector", "dims": 384, "similarity": "dot_product", "index": True},
        "meta": {"type": "object", "enabled": False},
        "published": {"type": "date", "format": "yyyy-MM-dd"},
        "select": {"type": "integer", "index": False},
    },
}


def test_flatten_mapping_paths_multifields_nested_and_root_settings() -> None:
    fields, info = flatten_mapping(ARTICLE_MAPPING)
    by_path = {f.path: f for f in fields}
    assert list(by_path) == [
        "title",
        "title.raw",
        "all_text",
        "author.name",
        "author.Address.city",
        "comments",
        "comments.user",
        "comments.text",
        "embedding",
        "meta",
        "published",
        "select",
    ]
    assert by_path["title"].copy_to == ["all_text"]
    assert by_path["title.raw"].multi_field_of == "title"
    assert by_path["title.raw"].ignore_above == 256
    assert by_path["comments"].type == "nested"
    assert by_path["comments.text"].nested_path == "comments"
    assert by_path["author.name"].nested_path is None
    assert (by_path["embedding"].dims, by_path["embedding"].similarity) == (384, "dot_product")
    assert by_path["meta"].index is False
    assert by_path["published"].format == "yyyy-MM-dd"
    assert by_path["select"].index is False
    assert info.dynamic == "strict"
    assert info.source_enabled is True
    assert info.source_excludes == ["embedding"]
    assert info.runtime_fields == {"day_of_week": "keyword"}


def test_flatten_mapping_source_disabled_and_vector_defaults() -> None:
    fields, info = flatten_mapping({"_source": {"enabled": False}, "properties": {"v": {"type": "dense_vector"}}})
    assert info.source_enabled is False
    assert (fields[0].similarity, fields[0].element_type, fields[0].dims) == ("cosine", "float", None)


def test_pick_time_field() -> None:
    def f(path: str, t: str = "date") -> EsField:
        return EsField(path=path, type=t)

    assert pick_time_field([f("updated"), f("@timestamp"), f("x", "keyword")]) == "@timestamp"
    assert pick_time_field([f("Created_At".lower()), f("other")]) == "created_at"
    assert pick_time_field([f("seen"), f("x", "long")]) == "seen"
    assert pick_time_field([f("a"), f("b")]) is None
    assert pick_time_field([f("n", "long")]) is None


# --------------------------------------------------------------------------- families


@pytest.mark.parametrize(
    ("index", "pattern", "period"),
    [
        ("logs-2026.12.01", "logs-{date}", "day"),
        ("logs-2026-12-01", "logs-{date}", "day"),
        ("logs_20261201", "logs_{date}", "day"),
        ("metrics-202612", "metrics-{date}", "month"),
        ("metrics-2026.12", "metrics-{date}", "month"),
        ("audit-2026", "audit-{date}", "year"),
        ("app-2026.12.01.13", "app-{date}", "hour"),
        ("events-000001", "events-{n}", "rollover"),
        ("logs-2026.12.01-000002", "logs-{date}-{n}", "day"),
    ],
)
def test_family_of(index: str, pattern: str, period: str) -> None:
    fam = family_of(index)
    assert fam is not None
    assert fam[:2] == (pattern, period)


@pytest.mark.parametrize("index", ["products", "logs-2026.13.01", "v-1999x", "logs-2026.12.01x", "build-123"])
def test_not_a_family(index: str) -> None:
    assert family_of(index) is None


def test_group_families_needs_two_members_and_keeps_formats_apart() -> None:
    names = [
        "logs-2026.12.02",
        "logs-2026.12.01",
        "logs-2026.12.03",
        "logs-2026-12",
        "logs-2026-11",
        "release-2024",
        "products",
    ]
    groups = sorted(group_families(names).values())
    assert groups[0] == ("logs-{date}", "day", ["logs-2026.12.01", "logs-2026.12.02", "logs-2026.12.03"])
    assert groups[1][1:] == ("month", ["logs-2026-11", "logs-2026-12"])
    assert groups[1][0] != groups[0][0]  # same base, other format: a distinct name
    assert len(groups) == 2


def test_merge_fields_union_and_conflicts() -> None:
    a = [EsField(path="@timestamp", type="date"), EsField(path="status", type="long")]
    b = [EsField(path="@timestamp", type="date"), EsField(path="status", type="long"), EsField(path="new", type="ip")]
    c = [EsField(path="@timestamp", type="date"), EsField(path="status", type="keyword")]
    merged, conflicts = merge_fields([a, b, c])
    assert [(f.path, f.type) for f in merged] == [("@timestamp", "date"), ("status", "long"), ("new", "ip")]
    assert conflicts == ["status: long (2 indexes), keyword (1 index)"]
