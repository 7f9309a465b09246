"""The Elasticsearch planner and the es_index mapping's rendering (pure: facts built by hand).

Analyzers the test Elasticsearch rejects (english, edge_ngram) are exercised here on hand-built
facts; the live path is tests/integration/test_es_ddl.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from _plan_factories import caps

from pgconsolidate.errors import PlanError
from pgconsolidate.es.analyze import analyzer_fit, flatten_mapping
from pgconsolidate.es.classify import MAX_DOCS, classify_index
from pgconsolidate.es.corpus import corpus_mapping
from pgconsolidate.es.fieldmap import fieldmap_for
from pgconsolidate.es.planner import (
    choose_ts_config,
    es_index_options,
    es_item_id,
    es_table_name,
    index_item,
    member_date,
    plan_es,
    text_weight,
)
from pgconsolidate.execute.ddl import render_item_ddl
from pgconsolidate.mappings import get_mapping
from pgconsolidate.models import Inventory, TargetCaps
from pgconsolidate.models_es import (
    EsAlias,
    EsAnalyzer,
    EsField,
    EsIndexFacts,
    EsIndexOptions,
    EsIndexReport,
    EsInventory,
    EsServerInfo,
)
from pgconsolidate.planner import build_plan
from pgconsolidate.translate import translate

BARE = caps(available={"plpgsql": "1.0"})
VECTOR = caps(available={"plpgsql": "1.0", "vector": "0.8.0"})
FULL = caps(available={"plpgsql": "1.0", "vector": "0.8.0", "pg_trgm": "1.6", "cube": "1.5", "earthdistance": "1.2"})


def facts(properties: dict[str, Any], *, name: str = "articles", **kw: Any) -> EsIndexFacts:
    """Facts of one index with ``properties`` (flattened like the analyzer does)."""
    fields, info = flatten_mapping(
        {"properties": properties, **({"dynamic": kw.pop("dynamic")} if "dynamic" in kw else {})}
    )
    base: dict[str, Any] = {
        "name": name,
        "indices": kw.pop("indices", [name]),
        "docs_count": 1000,
        "fields": fields,
        "analyzers": kw.pop("analyzers", [analyzer_fit("standard")]),
        "dynamic": info.dynamic,
    }
    base.update(kw)
    return EsIndexFacts(**base)


def options(f: EsIndexFacts, target: TargetCaps = FULL) -> tuple[EsIndexOptions, list[str]]:
    return es_index_options(f, target, schema="public", table=es_table_name(f.name))


def column(opts: EsIndexOptions, field: str) -> Any:
    return next(c for c in opts.columns if c.field == field)


def item_of(f: EsIndexFacts, target: TargetCaps = FULL) -> Any:
    return index_item(EsIndexReport(facts=f, usage=classify_index(f)), target, "public")


# --------------------------------------------------------------------------- typing rules


@pytest.mark.parametrize(
    ("es_type", "pg_type", "index"),
    [
        ("keyword", "text", "btree"),
        ("long", "bigint", "none"),
        ("integer", "integer", "none"),
        ("short", "smallint", "none"),
        ("byte", "smallint", "none"),
        ("unsigned_long", "numeric(20,0)", "none"),
        ("double", "double precision", "none"),
        ("float", "real", "none"),
        ("half_float", "real", "none"),
        ("scaled_float", "double precision", "none"),
        ("date", "timestamptz", "none"),
        ("date_nanos", "timestamptz", "none"),
        ("boolean", "boolean", "none"),
        ("ip", "inet", "none"),
        ("flattened", "jsonb", "gin"),
        ("wildcard", "text", "gin_trgm"),
    ],
)
def test_scalar_types(es_type: str, pg_type: str, index: str) -> None:
    spec: dict[str, Any] = {"type": es_type}
    if es_type == "scaled_float":
        spec["scaling_factor"] = 100
    opts, _ = options(facts({"f": spec}))
    col = column(opts, "f")
    assert (col.pg_type, col.index, col.array) == (pg_type, index, False)


def test_object_leaves_nested_and_disabled_objects_are_jsonb() -> None:
    f = facts(
        {
            "author": {"properties": {"name": {"type": "keyword"}}},
            "meta": {"type": "object", "enabled": False},
            "comments": {"type": "nested", "properties": {"user": {"type": "keyword"}, "text": {"type": "text"}}},
        }
    )
    opts, notes = options(f)
    assert column(opts, "author.name").pg_type == "text"  # an object with sub-fields is flattened
    assert (column(opts, "meta").pg_type, column(opts, "meta").index) == ("jsonb", "none")  # not indexed in ES
    assert (column(opts, "comments").pg_type, column(opts, "comments").index) == ("jsonb", "gin")
    assert [c.field for c in opts.columns if c.field.startswith("comments.")] == []
    assert opts.json_fields == {"comments.user": "keyword", "comments.text": "text"}
    assert any("nested" in n for n in notes)


def test_tag_like_keywords_and_copy_to_targets_are_arrays() -> None:
    f = facts(
        {
            "tags": {"type": "keyword"},
            "Labels": {"type": "keyword"},
            "category": {"type": "keyword"},
            "status": {"type": "keyword", "copy_to": ["facets"]},
            "kind": {"type": "keyword", "copy_to": ["facets"]},
            "facets": {"type": "keyword"},
        }
    )
    opts, _ = options(f)
    for name in ("tags", "Labels", "category", "facets"):
        assert (column(opts, name).array, column(opts, name).index) == (True, "gin"), name
    assert column(opts, "status").array is False
    assert column(opts, "facets").copy_from == ["status", "kind"]
    ddl = render(opts, f)
    assert 'GENERATED ALWAYS AS (array_remove(ARRAY["status"] || ARRAY["kind"], NULL)) STORED' in table_ddl(ddl)


def test_multi_field_gets_its_own_column_fed_by_its_parent() -> None:
    f = facts({"title": {"type": "text", "fields": {"raw": {"type": "keyword"}}}})
    opts, _ = options(f)
    raw = column(opts, "title.raw")
    assert (raw.column, raw.pg_type, raw.index, raw.from_field) == ("title__raw", "text", "btree", "title")
    assert raw.weight is None and column(opts, "title").weight == "A"


def test_text_copy_to_target_is_generated_and_not_part_of_the_tsvector() -> None:
    f = facts(
        {
            "title": {"type": "text", "copy_to": "all"},
            "body": {"type": "text", "copy_to": "all"},
            "views": {"type": "long", "copy_to": "all"},
            "all": {"type": "text"},
        }
    )
    opts, notes = options(f)
    all_col = column(opts, "all")
    assert all_col.copy_from == ["title", "body"]  # the long source cannot feed an immutable text expression
    assert all_col.weight is None
    assert any("views cannot feed" in n for n in notes)
    assert "all" not in get_mapping("es_index").columns(_item(opts, f))  # never written by the copy


@pytest.mark.parametrize(
    ("path", "weight"),
    [("title", "A"), ("meta.Name", "A"), ("subject", "A"), ("headline", "A"), ("summary", "B"),
     ("description", "B"), ("body", "C"), ("content", "C")],
)  # fmt: skip
def test_text_weights_by_name(path: str, weight: str) -> None:
    assert text_weight(path) == weight


# --------------------------------------------------------------------------- full text


def test_ts_config_follows_the_analyzer() -> None:
    english = facts({"title": {"type": "text", "analyzer": "english"}}, analyzers=[analyzer_fit("english")])
    assert options(english)[0].ts_config == "english"
    standard = facts({"title": {"type": "text"}})
    assert options(standard)[0].ts_config == "simple"
    # An analyzer the facts do not list is fitted by its built-in name.
    assert choose_ts_config([EsField(path="t", type="text", analyzer="french")], {})[0] == "french"


def test_ts_config_without_equivalent_falls_back_to_simple_with_a_note() -> None:
    odd = EsAnalyzer(name="odd", tokenizer="whitespace", ts_config=None)
    cfg, notes = choose_ts_config([EsField(path="t", type="text", analyzer="odd")], {"odd": odd})
    assert cfg == "simple" and "no matching text search configuration" in notes[0]


def test_mixed_analyzers_pick_the_most_common_with_a_note() -> None:
    fields = [
        EsField(path=p, type="text", analyzer=a) for p, a in (("a", "english"), ("b", "english"), ("c", "german"))
    ]
    cfg, notes = choose_ts_config(fields, {})
    assert cfg == "english" and "german" in notes[0]


def test_tsvector_expression_uses_weights_and_config() -> None:
    f = facts(
        {"title": {"type": "text", "analyzer": "english"}, "summary": {"type": "text", "analyzer": "english"},
         "body": {"type": "text", "analyzer": "english"}},
        analyzers=[analyzer_fit("english")],
    )  # fmt: skip
    opts, _ = options(f)
    table = table_ddl(render(opts, f))
    assert (
        "\"search_vector\" tsvector GENERATED ALWAYS AS (setweight(to_tsvector('english'::regconfig, "
        "coalesce(\"title\", '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(\"summary\", '')), "
        "'B') || setweight(to_tsvector('english'::regconfig, coalesce(\"body\", '')), 'C')) STORED"
    ) in table
    assert any('USING gin ("search_vector")' in s for s in render(opts, f))


def test_no_text_fields_no_tsvector() -> None:
    opts, _ = options(facts({"k": {"type": "keyword"}}))
    assert opts.tsvector_column is None
    assert not any("tsvector" in s for s in render(opts, facts({"k": {"type": "keyword"}})))


def test_pg_search_switches_gin_for_bm25() -> None:
    f = facts({"title": {"type": "text"}, "body": {"type": "text"}})
    opts, _ = options(f, caps(available={"plpgsql": "1.0", "pg_search": "0.18.0"}))
    assert opts.bm25
    ddl = render(opts, f)
    assert 'CREATE EXTENSION IF NOT EXISTS "pg_search"' in ddl
    bm25 = [s for s in ddl if "bm25" in s]
    assert bm25 == [
        'CREATE INDEX IF NOT EXISTS "es_articles_bm25_idx" ON "public"."es_articles" USING bm25 '
        '("_id", "title", "body") WITH (key_field=\'_id\')'
    ]
    assert not any('USING gin ("search_vector")' in s for s in ddl)
    assert not options(f, BARE)[0].bm25


def test_pg_trgm_index_only_for_partial_match_analyzers_and_only_with_the_extension() -> None:
    auto = EsAnalyzer(name="auto", tokenizer="edge_ngram", ts_config="simple", partial_match=True)
    f = facts(
        {"name": {"type": "text", "analyzer": "auto"}, "body": {"type": "text"}},
        analyzers=[auto, analyzer_fit("standard")],
    )
    opts, _ = options(f, FULL)
    assert (column(opts, "name").index, column(opts, "name").opclass) == ("gin_trgm", "gin_trgm_ops")
    assert column(opts, "body").index == "none"
    ddl = render(opts, f)
    assert 'CREATE EXTENSION IF NOT EXISTS "pg_trgm"' in ddl
    assert any('USING gin ("name" gin_trgm_ops)' in s for s in ddl)
    assert fieldmap_for(_item(opts, f)).has_trgm
    opts_bare, notes = options(f, BARE)
    assert column(opts_bare, "name").index == "none" and any("no pg_trgm" in n for n in notes)


# --------------------------------------------------------------------------- vectors and geo


@pytest.mark.parametrize(
    ("dims", "similarity", "pg_type", "opclass"),
    [
        (8, "cosine", "vector(8)", "vector_cosine_ops"),
        (768, "dot_product", "vector(768)", "vector_ip_ops"),
        (1536, "max_inner_product", "vector(1536)", "vector_ip_ops"),
        (2000, "l2_norm", "vector(2000)", "vector_l2_ops"),
        (2001, "cosine", "halfvec(2001)", "halfvec_cosine_ops"),
        (3072, "l2_norm", "halfvec(3072)", "halfvec_l2_ops"),
        (4000, "dot_product", "halfvec(4000)", "halfvec_ip_ops"),
        (4001, "cosine", "vector(4001)", None),
    ],
)
def test_dense_vector_types_and_opclasses(dims: int, similarity: str, pg_type: str, opclass: str | None) -> None:
    f = facts({"v": {"type": "dense_vector", "dims": dims, "similarity": similarity}})
    opts, notes = options(f, VECTOR)
    col = column(opts, "v")
    assert (col.pg_type, col.opclass, col.index, col.similarity) == (
        pg_type,
        opclass,
        "hnsw" if opclass else "none",
        similarity,
    )
    if dims > 4000:
        assert any("no HNSW index" in n for n in notes)
    ddl = render(opts, f)
    assert 'CREATE EXTENSION IF NOT EXISTS "vector"' in ddl
    if opclass:
        assert any(f'USING hnsw ("v" {opclass})' in s for s in ddl)
    assert fieldmap_for(_item(opts, f)).columns["v"].vector_similarity == similarity


def test_dense_vector_without_pgvector_is_a_real_array() -> None:
    opts, notes = options(facts({"v": {"type": "dense_vector", "dims": 8}}), BARE)
    assert (column(opts, "v").pg_type, column(opts, "v").index) == ("real[]", "none")
    assert any("no pgvector" in n for n in notes)


def test_geo_point_postgis_earthdistance_or_plain_point() -> None:
    f = facts({"loc": {"type": "geo_point"}})
    postgis, _ = options(f, caps(available={"postgis": "3.5.0"}))
    assert (column(postgis, "loc").pg_type, column(postgis, "loc").index, postgis.geo) == (
        "geography(Point,4326)",
        "gist",
        "postgis",
    )
    assert any('USING gist ("loc")' in s for s in render(postgis, f))
    earth, _ = options(f, FULL)
    assert (column(earth, "loc").pg_type, earth.geo) == ("point", "earthdistance")
    ddl = render(earth, f)
    assert 'CREATE EXTENSION IF NOT EXISTS "earthdistance"' in ddl
    assert any('USING gist (ll_to_earth("loc"[1], "loc"[0]))' in s for s in ddl)
    bare, _ = options(f, BARE)
    assert (column(bare, "loc").pg_type, bare.geo) == ("point", "none")
    assert not any("gist" in s for s in render(bare, f))


# --------------------------------------------------------------------------- names, extra, keep


def test_awkward_field_names_are_mapped_and_recorded() -> None:
    f = facts(corpus_mapping()["mappings"]["properties"])
    opts, notes = options(f)
    cols = {c.field: c for c in opts.columns}
    assert cols["select"].column == "select_" and "reserved" in (cols["select"].renamed_because or "")
    assert cols["Order"].column == "order_"
    assert cols["author.name"].column != cols["Author.Name"].column
    assert cols["author.name"].column.startswith("author__name_")
    assert any("mapped to column names" in n for n in notes)
    fm = fieldmap_for(_item(opts, f))
    assert fm.columns["Author.Name"].column == cols["Author.Name"].column
    tr = translate({"query": {"term": {"select": 3}}}, fm)
    assert '"select_" = 3' in tr.sql and not tr.unsupported


def test_extra_column_unless_strict() -> None:
    assert options(facts({"a": {"type": "keyword"}}))[0].extra_column == "_extra"
    assert options(facts({"a": {"type": "keyword"}}, dynamic="strict"))[0].extra_column is None


def test_keep_verdict_carries_the_classifier_reason_with_numbers() -> None:
    f = facts({"title": {"type": "text"}}, docs_count=MAX_DOCS + 1)
    it = item_of(f)
    assert it.verdict == "keep" and it.target is None
    assert "100M" in it.reason or "100,000,000" in it.reason or "documents" in it.reason
    perc = item_of(facts({"q": {"type": "percolator"}}))
    assert perc.verdict == "keep" and "percolator field q" in perc.reason


def test_migrate_item_ids_tables_and_source() -> None:
    f = facts({"title": {"type": "text"}}, name="My-Articles")
    it = item_of(f)
    assert it.verdict == "migrate" and it.target is not None
    assert it.id == es_item_id("My-Articles") and it.id.startswith("es.my-articles.")
    assert (it.target.mapping, it.target.table) == ("es_index", "es_my_articles")
    assert it.source.kind == "elasticsearch" and it.source.indices == ["My-Articles"]
    assert "1,000 documents" in it.reason


# --------------------------------------------------------------------------- partitions and views


def family(**kw: Any) -> EsIndexFacts:
    members = ["logs-2026.01.01", "logs-2026.01.02", "logs-2026.01.10"]
    return facts(
        {"@timestamp": {"type": "date"}, "message": {"type": "text"}, "level": {"type": "keyword"}},
        name="logs-{date}",
        indices=members,
        family=True,
        family_period=kw.pop("period", "day"),
        time_field="@timestamp",
        aliases=kw.pop("aliases", []),
        **kw,
    )


def test_family_is_range_partitioned_on_its_time_column() -> None:
    f = family()
    opts, notes = options(f)
    assert (opts.partition_by, opts.partition_column) == ("day", "timestamp")
    assert opts.partition_anchor is not None and opts.partition_anchor.isoformat() == "2026-01-01"
    assert opts.partition_premake == 9 + 4  # reaches the last member (Jan 10) and 4 days past it
    ddl = render(opts, f)
    table = table_ddl(ddl)
    assert 'PRIMARY KEY ("_id", "timestamp")' in table and 'PARTITION BY RANGE ("timestamp")' in table
    assert '"timestamp" timestamptz NOT NULL' in table
    parts = [s for s in ddl if "PARTITION OF" in s]
    assert any("FOR VALUES FROM ('2026-01-10 00:00:00+00')" in s for s in parts)
    assert parts[-1].endswith("DEFAULT")
    assert any("primary key is (_id, timestamp)" in n for n in notes)
    assert any('("timestamp")' in s and "CREATE INDEX" in s for s in ddl)  # btree on the time column


@pytest.mark.parametrize(
    ("period", "docs", "expected"),
    [("hour", 10, "day"), ("month", 10, "month"), ("year", 10, "month"), ("rollover", 60_000_000, "day"),
     ("rollover", 3_000_000, "week"), ("rollover", 1000, "month")],
)  # fmt: skip
def test_partition_period(period: str, docs: int, expected: str) -> None:
    opts, _ = options(family(period=period, docs_count=docs))
    assert opts.partition_by == expected
    if period == "rollover":
        assert opts.partition_anchor is None


def test_family_without_time_field_is_not_partitioned() -> None:
    f = facts({"message": {"type": "text"}}, name="x-{date}", indices=["x-2026.01.01", "x-2026.01.02"], family=True)
    opts, notes = options(f)
    assert opts.partition_by == "none" and any("not partitioned" in n for n in notes)


def test_member_date() -> None:
    assert str(member_date("logs-2026.12.01")) == "2026-12-01"
    assert str(member_date("metrics-202612")) == "2026-12-01"
    assert str(member_date("logs-2026-12-01-000002")) == "2026-12-01"
    assert member_date("plain") is None


def test_aliases_become_views_filtered_ones_through_the_translator() -> None:
    members = ["logs-2026.01.01", "logs-2026.01.02", "logs-2026.01.10"]
    f = family(
        aliases=[
            EsAlias(name="logs", indices=members),
            EsAlias(name="errors", indices=members, filter={"term": {"level": "error"}}),
            EsAlias(name="scripted", indices=members, filter={"script": {"script": "doc.x"}}),
            EsAlias(name="latest", indices=members[-1:]),
            EsAlias(name="everything", indices=[*members, "other"]),
        ]
    )
    opts, notes = options(f)
    views = {v.alias: v for v in opts.views}
    assert views["logs"].name == "es_logs_view" and views["logs"].where_sql is None  # 'es_logs' is the table
    assert views["errors"].where_sql == "\"level\" = 'error'"
    assert views["scripted"].unsupported and "script" in views["scripted"].unsupported[0]
    assert "1 of 3 family members" in views["latest"].unsupported[0]
    assert "outside this item" in views["everything"].unsupported[0]
    ddl = [s for s in render(opts, f) if "VIEW" in s]
    assert ddl == [
        'CREATE OR REPLACE VIEW "public"."es_logs_view" AS SELECT * FROM "public"."es_logs"',
        'CREATE OR REPLACE VIEW "public"."es_errors" AS SELECT * FROM "public"."es_logs" WHERE "level" = \'error\'',
    ]
    assert sum("no view" in n for n in notes) == 3


def test_a_hand_edited_view_filter_must_be_one_condition() -> None:
    f = facts(
        {"a": {"type": "keyword"}}, aliases=[EsAlias(name="v", indices=["articles"], filter={"term": {"a": "x"}})]
    )
    opts, _ = options(f)
    bad = opts.model_copy(update={"views": [opts.views[0].model_copy(update={"where_sql": "true; DROP TABLE x"})]})
    with pytest.raises(PlanError, match="not one SQL condition"):
        render(bad, f)


def test_a_hand_edited_column_type_is_refused() -> None:
    opts, _ = options(facts({"a": {"type": "keyword"}}))
    cols = [opts.columns[0].model_copy(update={"pg_type": "text); DROP TABLE x; --"})]
    with pytest.raises(PlanError, match="pg_type"):
        render(opts.model_copy(update={"columns": cols}), facts({"a": {"type": "keyword"}}))


# --------------------------------------------------------------------------- build_plan wiring


def test_build_plan_adds_an_elasticsearch_source_and_items() -> None:
    keep = facts({"q": {"type": "percolator"}}, name="queries")
    migrate = facts({"title": {"type": "text"}}, name="articles")
    inv = Inventory(
        tool_version="0.1.0",
        generated_at="2026-01-01T00:00:00+00:00",
        elasticsearch=EsInventory(
            url="http://elastic:secret@es.example:9200",
            fingerprint="e" * 16,
            server=EsServerInfo(version="9.2.0"),
            indices=[EsIndexReport(facts=x, usage=classify_index(x)) for x in (keep, migrate)],
        ),
    )
    plan = build_plan(inv, FULL, generated_at="2026-01-01T00:00:00+00:00")
    assert [(s.kind, s.fingerprint) for s in plan.sources] == [("elasticsearch", "e" * 16)]
    assert "secret" not in plan.sources[0].url
    assert {it.source.index: it.verdict for it in plan.items} == {"queries": "keep", "articles": "migrate"}  # type: ignore[union-attr]
    assert plan == build_plan(inv, FULL, generated_at="2026-01-01T00:00:00+00:00")  # deterministic
    assert [it.id for it in plan_es(inv.elasticsearch, FULL, "public")] == [it.id for it in plan.items]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- helpers


def _item(opts: EsIndexOptions, f: EsIndexFacts) -> Any:
    it = item_of(f)
    assert it.target is not None
    return it.model_copy(update={"target": it.target.model_copy(update={"options": opts.model_dump(mode="json")})})


def render(opts: EsIndexOptions, f: EsIndexFacts) -> list[str]:
    """The checked DDL of an item with ``opts`` (every statement passes check_statement)."""
    return render_item_ddl(_item(opts, f), None)


def table_ddl(ddl: list[str]) -> str:
    """The CREATE TABLE statement of the parent table."""
    return next(s for s in ddl if s.startswith("CREATE TABLE") and "PARTITION OF" not in s)
