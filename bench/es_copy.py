"""Elasticsearch -> PostgreSQL copy throughput: raw export ceiling vs end-to-end copy, in one run.

Indexes N corpus documents (:mod:`pgconsolidate.es.corpus`, about 1 KB each, 2 primary shards)
into the test Elasticsearch (kept between runs under a fixed name when its count matches), plans
the index like ``pgconsolidate plan`` does and writes the plan file, then prints:

* raw export     - a PIT scan with the same slices and page size as the copy, in parallel threads,
                   documents parsed and discarded (what Elasticsearch + the client can give);
* end to end     - ``pgconsolidate migrate`` in a separate process, as a user runs it (DDL, documents
                   converted, binary COPY, checkpoints, deferred index rebuild, final count checks),
                   documents/s over the copy's own seconds and over the process's wall time;
* their ratio (goal >= 0.8) and the copy process's peak RSS (VmHWM; goal < 500 MB).

Usage::

    eval "$(bash scripts/services.sh env)"
    .venv/bin/python bench/es_copy.py [--docs 200000] [--slices N] [--page 2000] [--keep-index]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_migrate, with_database

from pgconsolidate.es import corpus
from pgconsolidate.es.analyze import sample_es
from pgconsolidate.es.client import PgcElasticsearch, connect_es
from pgconsolidate.es.copy import DEFAULT_PAGE, _Reader, default_slices
from pgconsolidate.execute import state
from pgconsolidate.models import CopyOptions, Inventory, PlanItem
from pgconsolidate.models_es import EsSource
from pgconsolidate.pg import probe_target
from pgconsolidate.planfile import save_plan
from pgconsolidate.planner import build_plan

INDEX = "pgc-bench-es-copy"


def ensure_index(es: PgcElasticsearch, n: int) -> float:
    """Index ``n`` documents under :data:`INDEX` unless it already holds exactly them; returns seconds spent."""
    if es.indices.exists(index=INDEX):
        if int(es.count(index=INDEX)["count"]) == n:
            return 0.0
        es.indices.delete(index=INDEX)
    t0 = time.perf_counter()
    corpus.index_corpus(es, INDEX, n, mapping=corpus.corpus_mapping(shards=2), batch=2000, threads=2)
    es.indices.forcemerge(index=INDEX, max_num_segments=1)  # a settled index, as a migration source usually is
    return time.perf_counter() - t0


def raw_export(es: PgcElasticsearch, item: PlanItem, slices: int, page: int) -> tuple[int, float]:
    """PIT scan of every slice in parallel, documents discarded; returns (documents, seconds)."""
    reader = _Reader(es, item, "5m")
    pit = reader.open_pit()
    counts = [0] * slices

    def scan(i: int) -> None:
        cp = state.EsSliceCheckpoint(item.id, "bench", i, slices, pit, None, 0, 0, False, "")
        for p in reader.pages(cp, page):
            counts[i] += len(p.hits)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=scan, args=(i,)) for i in range(slices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    reader.close_pit(pit)
    return sum(counts), seconds


def end_to_end(
    es_url: str, pg_url: str, plan_path: Path, slices: int, workdir: Path
) -> tuple[dict[str, Any], float, int]:
    """``pgconsolidate migrate`` (a subprocess, as a user runs it); returns (its item result, wall s, peak RSS)."""
    args = [str(plan_path), "--target", pg_url, "--es", es_url, "--slices", str(slices)]
    report, wall, peak = run_migrate([*args, "--reject-dir", str(workdir / "rejects")])
    [result] = report["items"]
    return result, wall, peak


def main() -> None:
    """Index, plan, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--slices", type=int, default=None, help="default: the copy's default (shards, CPUs)")
    parser.add_argument("--page", type=int, default=DEFAULT_PAGE)
    parser.add_argument("--es", default=os.environ.get("PGCONSOLIDATE_TEST_ES_URL"))
    parser.add_argument("--target", default=os.environ.get("PGCONSOLIDATE_TEST_PG_URL"))
    parser.add_argument("--keep-index", action="store_true", help="keep the bench index for the next run")
    args = parser.parse_args()
    if not args.es or not args.target:
        raise SystemExit("set PGCONSOLIDATE_TEST_ES_URL / PGCONSOLIDATE_TEST_PG_URL (scripts/services.sh env)")
    es = connect_es(args.es, request_timeout=120)
    db = f"pgc_bench_es_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.target, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    pg_url = with_database(args.target, db)
    try:
        print(f"indexing {args.docs:,} documents ... ", end="", flush=True)
        took = ensure_index(es, args.docs)
        print(f"{took:.1f} s" if took else "reused")
        inv = sample_es(es, args.es, indices=INDEX)
        with psycopg.connect(pg_url) as conn:
            caps = probe_target(conn, pg_url)
        plan = build_plan(Inventory(tool_version="bench", generated_at="bench", elasticsearch=inv), caps)
        item = next(it for it in plan.items if it.verdict == "migrate")
        item.copy_options = CopyOptions(batch_size=args.page)
        workdir = Path(tempfile.mkdtemp())
        plan_path = save_plan(plan, workdir / "plan.yaml")
        assert isinstance(item.source, EsSource)
        slices = args.slices or default_slices(item.source)
        size = sum(len(json.dumps(corpus.make_document(i))) for i in range(0, 1000)) / 1000
        print(f"documents: {args.docs:,} (~{size:.0f} B of JSON each), slices: {slices}, page: {args.page}")

        docs, seconds = raw_export(es, item, slices, args.page)
        raw_rate = docs / seconds
        print(f"raw export     : {docs:,} docs in {seconds:6.2f} s = {raw_rate:9,.0f} docs/s")

        result, wall, peak = end_to_end(args.es, pg_url, plan_path, slices, workdir)
        rows, copy_seconds = int(result["rows"]), float(result["seconds"])
        copy_rate, wall_rate = rows / copy_seconds, rows / wall
        print(f"end to end     : {rows:,} rows in {copy_seconds:6.2f} s = {copy_rate:9,.0f} docs/s "
              f"(process wall {wall:.2f} s = {wall_rate:,.0f} docs/s)")  # fmt: skip
        print(f"ratio          : {copy_rate / raw_rate:.2f} (goal >= 0.8; wall-clock ratio {wall_rate / raw_rate:.2f})")
        print(f"peak RSS       : {peak / 2**20:.0f} MB (goal < 500 MB)")
        if int(result["source_count"]) != docs or rows != docs:
            raise SystemExit(f"count mismatch: exported {docs}, copied {rows}, source count {result['source_count']}")
    finally:
        with psycopg.connect(args.target, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        if not args.keep_index:
            es.options(ignore_status=404).indices.delete(index=INDEX)
        es.close()


if __name__ == "__main__":
    main()
