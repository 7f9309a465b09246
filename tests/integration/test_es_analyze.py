"""Integration: the Elasticsearch client layer and analyzer against the real Elasticsearch 9.2 server.

The server is the minimal integ-test distribution: no analysis-common module (the ``english``
analyzer, stemmer, asciifolding, synonym and ngram filters are rejected at index creation), no
security (a wrong password cannot be observed: the 401 path is unit-tested in
tests/unit/test_es_client.py), no data stream API. So these indices use the ``standard`` analyzer,
and analyzer translation is covered by tests/unit/test_es_analyzer_fit.py on settings JSON.

Every index/alias/template a test creates carries a unique prefix and is deleted afterwards
(other test runs share the server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import BadRequestError

from pgconsolidate.errors import ConnectionFailed
from pgconsolidate.es.analyze import sample_es
from pgconsolidate.es.client import PgcElasticsearch, connect_es
from pgconsolidate.es.corpus import corpus_mapping, index_corpus
from pgconsolidate.models import UsageKind
from pgconsolidate.models_es import EsIndexReport, EsInventory

N_ARTICLES = 60
LOG_DOCS = {"2026.12.01": 3, "2026.12.02": 4, "2026.12.03": 5}


def _seed(es: PgcElasticsearch, p: str) -> None:
    """A cluster the way applications leave one: a daily log family behind an alias and a template,
    an article index (corpus) with a filtered alias, a keyword-only index, a hidden index."""
    es.indices.put_index_template(
        name=f"{p}logs-tpl",
        index_patterns=[f"{p}logs-*"],
        priority=400,
        template={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {
                "properties": {
                    "@timestamp": {"type": "date"},
                    "message": {"type": "text"},
                    "level": {"type": "keyword"},
                    "host": {"properties": {"ip": {"type": "ip"}, "name": {"type": "keyword"}}},
                }
            },
        },
    )
    for day, n in LOG_DOCS.items():
        index = f"{p}logs-{day}"
        # the newest day maps `status` differently: a conflict the family merge must report
        status = {"type": "keyword"} if day == "2026.12.03" else {"type": "long"}
        es.indices.create(index=index, mappings={"properties": {"status": status}}, aliases={f"{p}logs": {}})
        ops: list[dict[str, Any]] = []
        for i in range(n):
            ops.append({"index": {"_index": index, "_id": f"{day}-{i}"}})
            ops.append(
                {
                    "@timestamp": f"{day.replace('.', '-')}T10:{i:02d}:00Z",
                    "message": f"GET /api/items/{i} served",
                    "level": "info",
                    "host": {"ip": f"10.0.0.{i + 1}", "name": "web-1"},
                    "status": 200,
                }
            )
        es.bulk(operations=ops, refresh=True)

    articles = f"{p}articles"
    assert index_corpus(es, articles, N_ARTICLES, mapping=corpus_mapping("standard"), batch=25) == N_ARTICLES
    es.indices.put_alias(index=articles, name=f"{p}popular", filter={"range": {"views": {"gte": 50_000}}})

    skus = f"{p}skus"
    es.indices.create(
        index=skus,
        mappings={"properties": {"sku": {"type": "keyword"}, "price": {"type": "double"}}},
    )
    es.bulk(
        operations=[x for i in range(7) for x in ({"index": {"_index": skus}}, {"sku": f"SKU-{i}", "price": i + 0.5})],
        refresh=True,
    )
    es.indices.create(
        index=f"{p}secret", settings={"index.hidden": True}, mappings={"properties": {"k": {"type": "keyword"}}}
    )


def _by_name(inv: EsInventory) -> dict[str, EsIndexReport]:
    return {ix.facts.name: ix for ix in inv.indices}


# --------------------------------------------------------------------------- client


def test_connect_reports_the_server(es: PgcElasticsearch) -> None:
    info = es.server_info
    assert info is not None
    assert info.version.startswith("9.")
    assert info.distribution == "elasticsearch"
    assert info.cluster_uuid and info.cluster_name
    assert info.nodes >= 1
    assert es.compat is None  # 9.x client, 9.x server: the client's own media types
    assert es.cluster.health()["status"] in ("green", "yellow")


def test_declared_compatibility_reaches_the_server(es_url: str) -> None:
    """The rewrite really changes the headers on the wire: 9.2 accepts compatible-with=8 (what an
    8.x server needs) and rejects compatible-with=7 with the media-type error."""
    client = connect_es(es_url)
    try:
        client.compat = 8
        assert client.cluster.health()["number_of_nodes"] >= 1
        assert client.options(request_timeout=10).compat == 8
        client.compat = 7
        with pytest.raises(BadRequestError) as err:
            client.cluster.health()
        assert "media_type_header_exception" in str(err.value)
    finally:
        client.close()


def test_unreachable_port_is_connection_failed_with_a_redacted_url() -> None:
    with pytest.raises(ConnectionFailed) as err:
        connect_es("http://elastic:hunter2@127.0.0.1:1/", request_timeout=3, max_retries=0)
    message = str(err.value)
    assert "http://elastic:***@127.0.0.1:1" in message
    assert "hunter2" not in message


def test_api_key_is_sent_and_never_shown(es_url: str) -> None:
    """Security is off on the test server, so the key is accepted (ignored); it must not leak anywhere."""
    key = "c2VjcmV0LWlkOnNlY3JldC1hcGkta2V5LXZhbHVl"
    client = connect_es(es_url, api_key=key)
    try:
        assert client.server_info is not None
        assert key not in repr(client.server_info)
    finally:
        client.close()


# --------------------------------------------------------------------------- analyzer


def test_sample_es_inventory(es: PgcElasticsearch, es_url: str, es_prefix: str) -> None:
    _seed(es, es_prefix)
    inv = sample_es(es, es_url, indices=f"{es_prefix}*")
    by_name = _by_name(inv)
    assert set(by_name) == {f"{es_prefix}logs-{{date}}", f"{es_prefix}articles", f"{es_prefix}skus"}
    assert inv.skipped == [f"{es_prefix}secret"]
    assert inv.server.version.startswith("9.")
    assert len(inv.fingerprint) == 16

    # the daily family: one usage, summed counts, merged fields with the conflict, alias, template
    logs = by_name[f"{es_prefix}logs-{{date}}"]
    f = logs.facts
    assert f.family and f.family_period == "day"
    assert f.indices == [f"{es_prefix}logs-{day}" for day in LOG_DOCS]
    assert f.docs_count == sum(LOG_DOCS.values())
    assert f.store_bytes > 0
    assert f.primary_shards == 3
    assert f.time_field == "@timestamp"
    assert f.template == f"{es_prefix}logs-tpl"
    paths = {x.path: x.type for x in f.fields}
    assert paths["host.ip"] == "ip" and paths["message"] == "text" and paths["status"] == "long"
    assert f.field_conflicts == ["status: long (2 indexes), keyword (1 index)"]
    assert [(a.name, sorted(a.indices)) for a in f.aliases] == [(f"{es_prefix}logs", f.indices)]
    assert f.search_stats["index_total"] == sum(LOG_DOCS.values())
    assert logs.usage.kind is UsageKind.LOG_TIMESERIES
    assert logs.usage.hints["also"] == "full_text"

    # the article corpus: multi-field, copy_to, nested, dense_vector, geo, awkward names
    art = by_name[f"{es_prefix}articles"]
    a = art.facts
    assert not a.family
    assert a.docs_count == N_ARTICLES  # top-level documents, not Lucene docs (nested comments excluded)
    assert a.dynamic == "strict"
    fields = {x.path: x for x in a.fields}
    assert fields["title.raw"].multi_field_of == "title" and fields["title.raw"].type == "keyword"
    assert fields["title"].copy_to == ["all_text"]
    assert fields["comments"].type == "nested" and fields["comments.text"].nested_path == "comments"
    assert (fields["embedding"].type, fields["embedding"].dims, fields["embedding"].similarity) == (
        "dense_vector",
        8,
        "cosine",
    )
    assert fields["location"].type == "geo_point"
    assert {"Author.Name", "select", "Order"} <= set(fields)
    assert [(x.name, x.ts_config) for x in a.analyzers] == [("standard", "simple")]
    popular = {al.name: al for al in a.aliases}[f"{es_prefix}popular"]
    assert popular.filter == {"range": {"views": {"gte": 50_000}}}
    assert art.usage.kind is UsageKind.VECTOR_SEARCH
    assert set(art.usage.hints["also"].split(",")) == {"full_text", "geo"}
    assert a.time_field == "published_at"

    skus = by_name[f"{es_prefix}skus"]
    assert skus.facts.docs_count == 7
    assert skus.usage.kind is UsageKind.KEYWORD_LOOKUP


def test_sample_es_include_hidden(es: PgcElasticsearch, es_url: str, es_prefix: str) -> None:
    es.indices.create(
        index=f"{es_prefix}secret", settings={"index.hidden": True}, mappings={"properties": {"k": {"type": "keyword"}}}
    )
    es.index(index=f"{es_prefix}secret", document={"k": "v"}, refresh=True)
    hidden = _by_name(sample_es(es, es_url, indices=f"{es_prefix}*", include_hidden=True))[f"{es_prefix}secret"]
    assert hidden.facts.hidden and hidden.facts.docs_count == 1
    assert sample_es(es, es_url, indices=f"{es_prefix}*").indices == []


# --------------------------------------------------------------------------- CLI end to end


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLIDATE_") or k.startswith("PGCONSOLIDATE_TEST")
    }
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "pgconsolidate", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_analyze_es_only(es: PgcElasticsearch, es_url: str, es_prefix: str, tmp_path: Path) -> None:
    _seed(es, es_prefix)
    out = tmp_path / "inv.json"
    r = _cli("analyze", "--es", es_url, "--es-indices", f"{es_prefix}*", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "Elasticsearch indices" in r.stdout
    assert f"{es_prefix}logs-{{date}} (3 indices)" in r.stdout
    inv = json.loads(out.read_text())
    assert inv["redis"] is None
    es_inv = inv["elasticsearch"]
    assert es_inv["url"] == es_url.rstrip("/") or es_inv["url"] == es_url
    names = {ix["facts"]["name"]: ix for ix in es_inv["indices"]}
    assert names[f"{es_prefix}articles"]["facts"]["docs_count"] == N_ARTICLES
    assert names[f"{es_prefix}logs-{{date}}"]["usage"]["kind"] == "log_timeseries"
    assert es_inv["skipped"] == [f"{es_prefix}secret"]
    assert any(t["name"] == f"{es_prefix}logs-tpl" for t in es_inv["templates"])

    # markdown renders the same table; the hidden index appears when asked
    r = _cli("analyze", "--es", es_url, "--es-indices", f"{es_prefix}*", "--include-hidden", "-f", "markdown")
    assert r.returncode == 0, r.stderr
    assert "### Elasticsearch indices" in r.stdout
    assert f"| {es_prefix}secret |" in r.stdout


def test_cli_analyze_es_unreachable_exits_4_redacted() -> None:
    r = _cli("analyze", "--es", "http://elastic:hunter2@127.0.0.1:1")
    assert r.returncode == 4
    assert "cannot reach Elasticsearch at http://elastic:***@127.0.0.1:1" in r.stderr
    assert "hunter2" not in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_cli_analyze_without_any_source_is_a_usage_error() -> None:
    r = _cli("analyze")
    assert r.returncode == 2
    assert "nothing to analyze" in r.stderr
