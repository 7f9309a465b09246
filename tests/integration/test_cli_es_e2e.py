"""The Elasticsearch slice end to end through the real CLI, as a user runs it.

analyze --es -> plan -> ddl -> migrate -> verify (documents + query parity) -> translate, against
the real Elasticsearch 9 and PostgreSQL 18 of the services script; then one row is altered in
PostgreSQL and verify must fail with exit 3 naming the document and the field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from pgconsolidate.es.client import connect_es
from pgconsolidate.es.corpus import index_corpus
from pgconsolidate.planfile import load_plan

DOCS = 600


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pgconsolidate`` with no inherited PGCONSOLIDATE_* URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLIDATE_") or k.endswith("STATE_DIR")}
    return subprocess.run(
        [sys.executable, "-m", "pgconsolidate", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_es_index_end_to_end(es_url: str, es_prefix: str, pg_url: str, tmp_path: Path) -> None:
    index = f"{es_prefix}articles"
    es = connect_es(es_url)
    try:
        assert index_corpus(es, index, DOCS) == DOCS
    finally:
        es.close()
    inv, plan_path = tmp_path / "inventory.json", tmp_path / "plans" / "search.yaml"

    r = run_cli("analyze", "--es", es_url, "--es-indices", f"{es_prefix}*", "-o", str(inv), "--format", "json")
    assert r.returncode == 0, r.stderr
    r = run_cli("plan", str(inv), "--target", pg_url, "-o", str(plan_path))
    assert r.returncode == 0, r.stderr
    plan = load_plan(plan_path)
    [item] = [it for it in plan.items if it.source.kind == "elasticsearch"]
    assert item.verdict == "migrate" and item.target is not None and item.target.mapping == "es_index"

    r = run_cli("ddl", str(plan_path))
    assert r.returncode == 0 and "tsvector" in r.stdout and "USING hnsw" in r.stdout, r.stdout + r.stderr

    r = run_cli(
        "migrate",
        str(plan_path),
        "--target",
        pg_url,
        "--es",
        es_url,
        "--format",
        "json",
        "--slices",
        "2",
        "--reject-dir",
        str(tmp_path / "rejects"),
    )
    assert r.returncode == 0, r.stderr
    [copied] = json.loads(r.stdout)["items"]
    assert copied["rows"] == DOCS

    args = ("--target", pg_url, "--es", es_url)
    r = run_cli("verify", str(plan_path), *args, "--format", "json", "--sample", "200")
    assert r.returncode == 0, r.stdout + r.stderr
    [parity] = json.loads(r.stdout)["items"]
    assert parity["source_count"] == parity["target_count"] == DOCS

    r = run_cli("translate", '{"query": {"match": {"title": "socket"}}, "size": 5}', "--plan", str(plan_path))
    assert r.returncode == 0 and "@@" in r.stdout, r.stderr
    with psycopg.connect(pg_url) as conn:
        hits = conn.execute(r.stdout.split("-- total hits")[0].split("\n", 1)[1]).fetchall()
        assert 0 < len(hits) <= 5

        # One altered document: verify fails with exit 3 and names it.
        table = sql.Identifier(item.target.schema_name, item.target.table)
        doc_id = conn.execute(sql.SQL("SELECT _id FROM {} ORDER BY _id LIMIT 1").format(table)).fetchone()
        assert doc_id is not None
        conn.execute(sql.SQL("UPDATE {} SET views = views + 1 WHERE _id = %s").format(table), (doc_id[0],))
    r = run_cli("verify", str(plan_path), *args, "--format", "json", "--full")
    assert r.returncode == 3, r.stdout + r.stderr
    [parity] = json.loads(r.stdout)["items"]
    assert parity["checked"] == DOCS  # --full reads every document
    mismatches = parity["mismatches"]
    assert any(m["key"] == f"{index}/{doc_id[0]}" and "views" in m["detail"] for m in mismatches), mismatches


def test_dated_index_family_lands_in_a_partitioned_table(
    es_url: str, es_prefix: str, pg_url: str, tmp_path: Path
) -> None:
    """logs-YYYY.MM.DD indices + an alias -> one item, a RANGE-partitioned table, a view; copied and verified."""
    from pgconsolidate import commands
    from pgconsolidate.planfile import save_plan

    days = ("2026.11.29", "2026.11.30", "2026.12.01")
    es = connect_es(es_url)
    try:
        members = [f"{es_prefix}logs-{day}" for day in days]
        for n, (name, day) in enumerate(zip(members, days, strict=True)):
            es.indices.create(
                index=name,
                mappings={
                    "properties": {
                        "@timestamp": {"type": "date"},
                        "message": {"type": "text"},
                        "level": {"type": "keyword"},
                    }
                },
            )
            for i in range(40 + n):
                level = "error" if i % 10 == 0 else "info"
                doc = {
                    "@timestamp": f"{day.replace('.', '-')}T{i % 24:02d}:00:00Z",
                    "message": f"request {i}",
                    "level": level,
                }
                es.index(index=name, id=f"{day}-{i}", document=doc)
            es.indices.refresh(index=name)
        es.indices.update_aliases(actions=[{"add": {"indices": members, "alias": f"{es_prefix}logs"}}])
    finally:
        es.close()

    inv = commands.analyze(es_url=es_url, es_indices=f"{es_prefix}*")
    plan = commands.make_plan(inv, pg_url)
    [item] = [it for it in plan.items if it.source.kind == "elasticsearch"]
    assert item.verdict == "migrate" and item.target is not None, item.reason
    assert item.target.options["partition_by"] != "none" and len(item.source.indices) == 3  # type: ignore[union-attr]
    plan_path = save_plan(plan, tmp_path / "logs.yaml")

    report = commands.migrate(plan_path, target_url=pg_url, redis_url=None, es_url=es_url, reject_dir=tmp_path)
    assert [r.rows for r in report.items] == [40 + 41 + 42]
    parity = commands.verify(plan_path, target_url=pg_url, redis_url=None, es_url=es_url, sample=500)
    queries = [(q.name, q.es_hits, q.pg_hits, q.recall_at_10, q.tied) for it in parity.items for q in it.queries]
    assert parity.ok, queries

    table = sql.Identifier(item.target.schema_name, item.target.table)
    with psycopg.connect(pg_url) as conn:
        parts = conn.execute(sql.SQL("SELECT tableoid::regclass::text, count(*) FROM {} GROUP BY 1").format(table))
        per_partition = dict(parts.fetchall())
        assert sum(per_partition.values()) == 123 and len(per_partition) >= 3  # one partition per day
        views = [v for v in item.target.options["views"] if v.get("alias") == f"{es_prefix}logs"]
        assert views, item.target.options["views"]
        view = sql.Identifier(item.target.schema_name, views[0]["name"])
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(view)).fetchone() == (123,)
