"""es_index round trip against the real Elasticsearch 9.2 and PostgreSQL 18: copy, resume, rejects, verify.

The corpus (:mod:`pgconsolidate.es.corpus`) has nested comments, an 8-dimension ``dense_vector``
(excluded from ``_source`` by 9.x defaults: the copy must ask for it), a ``title.raw``
multi-field, a date, an IP, a geo_point and awkward names (``Author.Name`` next to
``author.name``, ``select``, ``Order``). Every test goes through the real chain: ``sample_es`` ->
``plan_es`` -> the planner's DDL -> :func:`copy_es_item` -> :func:`verify_es_item`. The test server
is the minimal integ-test distribution (no analysis-common): the standard analyzer is used.
Indices are prefixed per test module/test and deleted at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgconsolidate import models
from pgconsolidate.errors import DataError
from pgconsolidate.es import corpus
from pgconsolidate.es.analyze import sample_es
from pgconsolidate.es.client import PgcElasticsearch, connect_es
from pgconsolidate.es.copy import copy_es_item, reject_paths
from pgconsolidate.es.planner import plan_es
from pgconsolidate.es.verify import load_queries, verify_es_item
from pgconsolidate.execute import state
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.pg import probe_target

N_DOCS = 2000


@pytest.fixture(scope="module")
def es(es_url: str) -> Iterator[PgcElasticsearch]:
    client = connect_es(es_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def corpus_index(es: PgcElasticsearch, es_url: str) -> Iterator[str]:
    """A 2-shard corpus index of N_DOCS documents, shared read-only by the tests of this module."""
    prefix = f"pgc-{uuid.uuid4().hex[:8]}-"
    name = f"{prefix}articles"
    corpus.index_corpus(es, name, N_DOCS, mapping=corpus.corpus_mapping(shards=2))
    try:
        yield name
    finally:
        es.options(ignore_status=404).indices.delete(index=name)


@pytest.fixture
def scratch_prefix(es: PgcElasticsearch) -> Iterator[str]:
    """A per-test index prefix; every index under it is deleted afterwards."""
    prefix = f"pgc-{uuid.uuid4().hex[:8]}-"
    try:
        yield prefix
    finally:
        # Wildcard deletes are refused (action.destructive_requires_name): delete by concrete name.
        names = list(es.options(ignore_status=404).indices.get(index=f"{prefix}*", expand_wildcards="all"))
        if names:
            es.options(ignore_status=404).indices.delete(index=names)


def _plan_and_create(es: PgcElasticsearch, es_url: str, pg_url: str, index: str) -> tuple[models.PlanItem, Any]:
    """Analyze ``index``, plan it, apply the planner's DDL; returns (item, open connection)."""
    inv = sample_es(es, es_url, indices=index)
    conn = psycopg.connect(pg_url)
    caps = probe_target(conn, pg_url)
    items = [it for it in plan_es(inv, caps, "public") if it.verdict == "migrate"]
    assert len(items) == 1, [(it.id, it.verdict, it.reason) for it in plan_es(inv, caps, "public")]
    apply_ddl(conn, render_item_ddl(items[0], caps))
    conn.commit()
    return items[0], conn


def _count(conn: psycopg.Connection[Any], item: models.PlanItem) -> tuple[int, int]:
    assert item.target is not None
    row = conn.execute(
        f'SELECT count(*), count(DISTINCT "_id") FROM "{item.target.schema_name}"."{item.target.table}"'
    ).fetchone()
    conn.commit()
    assert row is not None
    return int(row[0]), int(row[1])


def _column(item: models.PlanItem, field: str) -> str:
    assert item.target is not None
    return str(next(c["column"] for c in item.target.options["columns"] if c["field"] == field))


# --------------------------------------------------------------------------- copy + verify


def test_copy_with_two_slices_then_verify_ok(
    es: PgcElasticsearch, es_url: str, pg_url: str, corpus_index: str, tmp_path: Path
) -> None:
    item, conn = _plan_and_create(es, es_url, pg_url, corpus_index)
    with conn:
        result = copy_es_item(es, conn, item, reject_dir=tmp_path, slices=2, page_size=300)
        assert (result.mode, result.slices, result.rows, result.rejected) == ("copy", 2, N_DOCS, 0)
        assert result.source_count == N_DOCS
        assert _count(conn, item) == (N_DOCS, N_DOCS)
        # Vectors come back although 9.x excludes them from _source by default.
        emb, raw = _column(item, "embedding"), _column(item, "title.raw")
        author, upper = _column(item, "author.name"), _column(item, "Author.Name")
        row = conn.execute(
            f'SELECT "{emb}"::text, "{raw}", "{author}", "{upper}", tags FROM "{item.target.table}" '  # type: ignore[union-attr]
            "WHERE _id = %s",
            (corpus.doc_id(7),),
        ).fetchone()
        doc = corpus.make_document(7)
        assert row is not None
        assert json.loads(row[0]) == pytest.approx(doc["embedding"], rel=1e-6)
        assert (row[1], row[2], row[3], row[4]) == (
            doc["title"],
            doc["author"]["name"],
            doc["Author.Name"],
            doc["tags"],
        )
        assert not reject_paths(tmp_path, item.id)[0].exists()

        parity = verify_es_item(es, conn, item, sample=N_DOCS, queries=[])
        assert parity.ok, parity.mismatches
        assert (parity.source_count, parity.target_count, parity.checked) == (N_DOCS, N_DOCS, N_DOCS)

        again = copy_es_item(es, conn, item, reject_dir=tmp_path, resume=True)
        assert again.mode == "skipped"


def test_resume_after_an_interrupted_copy_continues_each_slice(
    es: PgcElasticsearch, es_url: str, pg_url: str, corpus_index: str, tmp_path: Path
) -> None:
    item, conn = _plan_and_create(es, es_url, pg_url, corpus_index)

    def crash(slice_id: int, batches: int) -> None:
        if slice_id == 0 and batches == 2:
            raise RuntimeError("injected crash after 2 batches")

    with conn:
        with pytest.raises(RuntimeError, match="injected crash"):
            copy_es_item(es, conn, item, reject_dir=tmp_path, slices=2, page_size=200, after_batch=crash)
        partial = _count(conn, item)[0]
        assert 0 < partial < N_DOCS
        slices = state.load_es_slices(conn, item.id, f"public.{item.target.table}")  # type: ignore[union-attr]
        conn.commit()
        assert sum(s.docs_copied for s in slices) == partial

        result = copy_es_item(es, conn, item, reject_dir=tmp_path, resume=True, slices=4)
        assert result.resumed and result.slices == 2  # the interrupted run's slicing is kept
        assert result.rows == N_DOCS - partial  # nothing read twice
        assert _count(conn, item) == (N_DOCS, N_DOCS)
        assert verify_es_item(es, conn, item, sample=N_DOCS, queries=[]).ok


def test_resume_after_the_point_in_time_expired_recopies_without_duplicates(
    es: PgcElasticsearch, es_url: str, pg_url: str, corpus_index: str, tmp_path: Path
) -> None:
    item, conn = _plan_and_create(es, es_url, pg_url, corpus_index)

    def crash(slice_id: int, batches: int) -> None:
        if batches == 3:
            raise RuntimeError("injected crash")

    with conn:
        with pytest.raises(RuntimeError):
            copy_es_item(es, conn, item, reject_dir=tmp_path, slices=2, page_size=250, after_batch=crash)
        slices = state.load_es_slices(conn, item.id, f"public.{item.target.table}")  # type: ignore[union-attr]
        conn.commit()
        for pit in {s.pit_id for s in slices}:  # what keep-alive expiry does to an abandoned PIT
            es.options(ignore_status=404).close_point_in_time(id=pit)

        result = copy_es_item(es, conn, item, reject_dir=tmp_path, resume=True)
        assert not result.resumed and result.mode == "upsert"
        assert any("expired" in n for n in result.notes)
        assert result.rows == N_DOCS
        assert _count(conn, item) == (N_DOCS, N_DOCS)


# --------------------------------------------------------------------------- rejects and unmapped fields


def _malformed_index(es: PgcElasticsearch, name: str, good: int) -> None:
    """``good`` documents, one whose ``views`` is a string ES kept (ignore_malformed), unmapped fields."""
    es.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={
            "dynamic": False,  # unmapped fields stay in _source only: they go to the _extra column
            "properties": {
                "title": {"type": "text"},
                "views": {"type": "long", "ignore_malformed": True},
                "seen": {"type": "date"},
            },
        },
    )
    ops: list[dict[str, Any]] = []
    for i in range(good):
        ops += [
            {"index": {"_index": name, "_id": f"ok-{i:03d}"}},
            {"title": f"document {i}", "views": i, "seen": 1_700_000_000_000 + i, "misc": {"n": i, "tag": "x"}},
        ]
    ops += [{"index": {"_index": name, "_id": "bad-1"}}, {"title": "bad", "views": "lots", "seen": "2024-05-01"}]
    es.bulk(operations=ops, refresh=True)


def test_rejects_stop_then_continue_and_unmapped_fields(
    es: PgcElasticsearch, es_url: str, pg_url: str, scratch_prefix: str, tmp_path: Path
) -> None:
    name = f"{scratch_prefix}events"
    _malformed_index(es, name, 50)
    item, conn = _plan_and_create(es, es_url, pg_url, name)
    dat, log = reject_paths(tmp_path, item.id)
    with conn:
        with pytest.raises(DataError) as err:
            copy_es_item(es, conn, item, reject_dir=tmp_path, on_error="stop")
        assert "'bad-1'" in err.value.message and "views" in err.value.message
        assert "is not a number" in err.value.message
        assert dat.exists() and log.exists()

        result = copy_es_item(es, conn, item, reject_dir=tmp_path, on_error="continue")
        assert (result.rows, result.rejected, result.source_count) == (50, 1, 51)
        lines = dat.read_text().splitlines()
        assert [json.loads(line)["_id"] for line in lines] == ["bad-1"]  # a fresh run starts fresh files
        assert json.loads(lines[0])["_source"]["views"] == "lots"
        assert "id=bad-1 field=views" in log.read_text()
        assert _count(conn, item) == (50, 50)
        extra = conn.execute(f"SELECT _extra FROM \"{item.target.table}\" WHERE _id = 'ok-007'").fetchone()  # type: ignore[union-attr]
        assert extra == ({"misc": {"n": 7, "tag": "x"}},)

        parity = verify_es_item(es, conn, item, sample=100, queries=[])
        assert parity.ok, parity.mismatches
        assert (parity.source_count, parity.target_count, parity.rejected) == (51, 50, 1)

        # An unmapped field altered in PostgreSQL is caught through the _extra column.
        conn.execute(
            f'UPDATE "{item.target.table}" SET _extra = \'{{"misc": {{"n": 8, "tag": "x"}}}}\' '  # type: ignore[union-attr]
            "WHERE _id = 'ok-007'"
        )
        conn.commit()
        parity = verify_es_item(es, conn, item, sample=100, queries=[])
        assert not parity.ok
        assert [m.key for m in parity.mismatches] == [f"{name}/ok-007"]
        assert "_extra" in parity.mismatches[0].detail


def test_verify_fails_on_an_altered_and_a_deleted_row(
    es: PgcElasticsearch, es_url: str, pg_url: str, corpus_index: str, tmp_path: Path
) -> None:
    item, conn = _plan_and_create(es, es_url, pg_url, corpus_index)
    with conn:
        copy_es_item(es, conn, item, reject_dir=tmp_path, slices=2)
        table = item.target.table  # type: ignore[union-attr]
        published = _column(item, "published_at")
        conn.execute(f'UPDATE "{table}" SET views = views + 1 WHERE _id = %s', (corpus.doc_id(11),))
        conn.execute(
            f'UPDATE "{table}" SET "{published}" = "{published}" + interval \'1 second\' WHERE _id = %s',
            (corpus.doc_id(12),),
        )
        conn.execute(f'DELETE FROM "{table}" WHERE _id = %s', (corpus.doc_id(13),))
        conn.commit()
        parity = verify_es_item(es, conn, item, sample=N_DOCS, queries=[], show_values=True)
        assert not parity.ok
        assert parity.mismatch_counts["value"] == 2
        assert parity.mismatch_counts["missing"] == 2  # the row itself, and the count
        details = {m.key: m.detail for m in parity.mismatches}
        assert "field views" in details[f"{corpus_index}/{corpus.doc_id(11)}"]
        assert "field published_at" in details[f"{corpus_index}/{corpus.doc_id(12)}"]
        assert details[f"{corpus_index}/{corpus.doc_id(13)}"] == "document absent from PostgreSQL"
        assert "1,999 rows" in details["(count)"]


# --------------------------------------------------------------------------- query parity


def test_query_parity_recall_and_the_gate(
    es: PgcElasticsearch, es_url: str, pg_url: str, corpus_index: str, tmp_path: Path
) -> None:
    item, conn = _plan_and_create(es, es_url, pg_url, corpus_index)
    queries_file = tmp_path / "queries.ndjson"
    queries_file.write_text(
        "# match queries on words of the corpus\n"
        + "\n".join(
            json.dumps(q)
            for q in [
                {"query": {"match": {"title": "mailbox"}}},
                {"query": {"match": {"body": "socket"}}},
                {"match": {"title": "decimal context"}},  # a bare clause is wrapped
                {
                    "query": {
                        "bool": {"must": [{"match": {"body": "thread"}}], "filter": [{"term": {"tags": "method"}}]}
                    }
                },
                {"query": {"script": {"script": "doc['views'].value > 1"}}},  # untranslatable: reported, not gated
            ]
        )
    )
    queries = load_queries(queries_file)
    with conn:
        copy_es_item(es, conn, item, reject_dir=tmp_path, slices=2)
        parity = verify_es_item(es, conn, item, sample=0, queries=queries)
        assert len(parity.queries) == 5
        gated = [q for q in parity.queries if q.gated]
        assert len(gated) == 4
        for q in gated:
            assert q.es_hits and q.es_hits > 0 and q.pg_hits is not None
            assert q.recall_at_10 is not None and q.overlap_at_10 is not None
        assert parity.queries[4].unsupported and not parity.queries[4].gated
        assert parity.mean_recall_at_10 is not None and parity.mean_recall_at_10 >= 0.8
        assert parity.ok
        assert set(parity.es_latency_ms) == {"p50", "p95"} == set(parity.pg_latency_ms)

        strict = verify_es_item(es, conn, item, sample=0, queries=queries, min_recall=1.01)
        assert not strict.ok and not strict.recall_ok  # the gate fails; the CLI exits 3

        generated = verify_es_item(es, conn, item, sample=0, queries=None, seed=3)
        assert generated.queries and any("term" in q.query["query"] for q in generated.queries)
        assert any("match" in q.query["query"] for q in generated.queries)
