"""Reports as neutral tables: one source of truth for what each report shows.

The console renderer draws these with rich, the Markdown renderer with pipe tables, so the two
can never disagree about columns or numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pgconsolidate.models import Inventory, ItemParity, MigrateReport, ParityReport, Plan
from pgconsolidate.report.fmt import (
    human_bytes,
    human_count,
    human_seconds,
    mismatch_total,
    percent,
    top_shapes,
    usage_label,
)

MISMATCH_KINDS: tuple[str, ...] = ("missing", "extra", "type", "value", "ttl")


@dataclass
class Table:
    """A titled table with string cells, plus free-text lines shown under it."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    """A document: a heading, summary lines, tables."""

    heading: str
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def inventory_report(inv: Inventory) -> Report:
    """What ``analyze`` found: server facts, then one row per index (family) / key pattern and channel."""
    rep = Report(heading="pgconsolidate analyze")
    if inv.redis is None and inv.elasticsearch is None:
        rep.summary.append("No source was analyzed.")
        return rep
    if inv.elasticsearch is not None:
        es = inv.elasticsearch
        families = sum(1 for ix in es.indices if ix.facts.family)
        rep.summary += [
            f"Elasticsearch {es.server.version} at {es.url} (cluster {es.server.cluster_name or '?'}, "
            f"{es.server.nodes} node(s)), fingerprint `{es.fingerprint}`",
            f"{len(es.indices)} indices analyzed ({families} time-based families / data streams), "
            f"{len(es.skipped)} skipped (hidden, system or closed)",
        ]
        es_table = Table(
            title="Elasticsearch indices", columns=["index / family", "docs", "size", "fields", "usage", "evidence"]
        )
        for ix in es.indices:
            facts = ix.facts
            name = facts.name if not facts.family else f"{facts.name} ({len(facts.indices)} indices)"
            summary = [e.detail for e in ix.usage.evidence if e.signal not in ("size", "keep", "analyzer_gap")][:2]
            text = "; ".join(summary)
            es_table.rows.append(
                [
                    name,
                    human_count(facts.docs_count),
                    human_bytes(facts.store_bytes),
                    str(len(facts.fields)),
                    usage_label(ix.usage) + (" KEEP" if "keep" in ix.usage.hints else ""),
                    text if len(text) <= 110 else text[:107] + "...",
                ]
            )
            es_table.notes += [f"{facts.name}: keep: {ix.usage.hints['keep']}"] if "keep" in ix.usage.hints else []
            es_table.notes += [f"{facts.name}: {e.detail}" for e in ix.usage.evidence if e.signal == "analyzer_gap"]
            es_table.notes += [f"{facts.name}: conflicting types: {c}" for c in facts.field_conflicts]
        if es.skipped:
            shown = ", ".join(es.skipped[:8]) + (f", ... (+{len(es.skipped) - 8})" if len(es.skipped) > 8 else "")
            es_table.notes.append(f"skipped: {shown} (use --include-hidden)")
        rep.tables.append(es_table)
        if es.templates:
            tpl = Table(title="Index templates", columns=["template", "patterns", "priority", "data stream"])
            tpl.rows = [
                [t.name, ", ".join(t.index_patterns), str(t.priority if t.priority is not None else "-"),
                 "yes" if t.data_stream else "no"]
                for t in es.templates
            ]  # fmt: skip
            rep.tables.append(tpl)
    if inv.redis is None:
        return rep
    r = inv.redis
    s = r.server
    rep.summary += [
        f"Redis {s.redis_version} at {r.url} (db {r.db}), fingerprint `{r.fingerprint}`",
        f"Sampled {human_count(r.sample.scanned_keys)} of {human_count(r.sample.dbsize)} keys"
        + (" (complete)" if r.sample.complete else f" (sample limit {human_count(r.sample.requested)})"),
        f"Memory {human_bytes(s.used_memory)} used, maxmemory {human_bytes(s.maxmemory) if s.maxmemory else 'unset'}"
        f", policy {s.maxmemory_policy or 'unknown'}",
    ]
    patterns = Table(
        title="Key patterns",
        columns=["pattern", "type", "est. keys", "TTL", "TTL p50", "mem p50", "values", "usage"],
    )
    for p in r.patterns:
        f = p.facts
        patterns.rows.append(
            [
                f.pattern if f.db == r.db else f"db{f.db}:{f.pattern}",
                f.redis_type,
                human_count(f.estimated_keys),
                percent(f.ttl.with_ttl, f.ttl.with_ttl + f.ttl.without_ttl),
                human_seconds(f.ttl.p50_seconds),
                human_bytes(f.memory.p50),
                top_shapes(f.value_shapes),
                usage_label(p.usage),
            ]
        )
        patterns.notes += [f"{f.pattern}: {e.detail}" for e in p.usage.evidence[:3]]
    rep.tables.append(patterns)
    if r.channels:
        chans = Table(title="Pub/sub channels", columns=["channel", "subscribers", "usage"])
        chans.rows = [[c.channel, str(c.subscribers), usage_label(c.usage)] for c in r.channels]
        rep.tables.append(chans)
    if s.commandstats:
        top = sorted(s.commandstats.items(), key=lambda kv: -kv[1].calls)[:10]
        cmds = Table(title="Top commands (INFO commandstats)", columns=["command", "calls", "usec/call"])
        cmds.rows = [[name, human_count(st.calls), f"{st.usec_per_call:.2f}"] for name, st in top]
        rep.tables.append(cmds)
    return rep


def plan_report(plan: Plan, *, path: str | None = None) -> Report:
    """The plan's decisions: one row per item with verdict, target and reason."""
    rep = Report(heading=f"pgconsolidate plan{f' — {path}' if path else ''}")
    counts = {v: sum(1 for it in plan.items if it.verdict == v) for v in ("migrate", "keep", "review")}
    rep.summary += [
        f"Target: {plan.target.url or 'embedded PostgreSQL'} (PostgreSQL {plan.target.server_version}, "
        f"fingerprint `{plan.target.fingerprint}`)",
        f"{len(plan.items)} items: {counts['migrate']} migrate, {counts['keep']} keep, {counts['review']} review",
    ]
    table = Table(title="Items", columns=["id", "usage", "verdict", "target", "reason"])
    for it in plan.items:
        target = f"{it.target.schema_name}.{it.target.table} ({it.target.mapping})" if it.target else "-"
        table.rows.append([it.id, usage_label(it.usage), it.verdict, target, it.reason])
        table.notes += [f"{it.id}: {n}" for n in it.notes]
    rep.tables.append(table)
    return rep


def migrate_report(report: MigrateReport) -> Report:
    """What ``migrate`` did per item: mode, rows, rate."""
    rep = Report(heading="pgconsolidate migrate" + (" (dry run)" if report.dry_run else ""))
    rep.summary.append(f"Plan {report.plan} -> {report.target or 'embedded PostgreSQL'}")
    applied = "would be applied" if report.dry_run else "applied"
    rep.summary.append(f"{report.ddl_statements} DDL statements {applied}")
    if report.items:
        total = sum(i.rows for i in report.items)
        rep.summary.append(f"{human_count(total)} rows copied in {report.seconds:.1f}s")
    table = Table(title="Items", columns=["id", "table", "mode", "keys", "rows", "rows/s", "vanished", "seconds"])
    for it in report.items:
        table.rows.append(
            [
                it.item_id,
                it.table,
                it.mode + (" (resumed)" if it.resumed else ""),
                human_count(it.keys),
                human_count(it.rows),
                human_count(it.rate),
                human_count(it.vanished),
                f"{it.seconds:.2f}",
            ]
        )
        if it.rejected:
            table.notes.append(f"{it.item_id}: {it.rejected:,} document(s) rejected (see the reject files)")
        table.notes += [f"{it.item_id}: {n}" for n in it.notes]
    if table.rows:
        rep.tables.append(table)
    return rep


def parity_report(report: ParityReport) -> Report:
    """Verify results: counts and mismatches by kind per item, then the first examples."""
    bad = [it for it in report.items if not it.ok]
    rep = Report(heading="pgconsolidate verify")
    rep.summary.append(
        f"{'FAILED' if bad else 'OK'}: {len(report.items) - len(bad)}/{len(report.items)} items match "
        f"({'full comparison' if report.full else f'sampled, seed {report.seed}'})"
    )
    table = Table(
        title="Parity",
        columns=["id", "table", "source", "target", "checked", *MISMATCH_KINDS, "status"],
    )
    for it in report.items:
        table.rows.append(
            [
                it.item_id,
                it.table,
                human_count(it.source_count),
                human_count(it.target_count),
                human_count(it.checked),
                *(human_count(it.mismatch_counts.get(k, 0)) for k in MISMATCH_KINDS),
                _parity_status(it),
            ]
        )
    rep.tables.append(table)
    queried = [it for it in report.items if it.queries]
    if queried:
        rep.tables.append(_query_parity_table(queried))
    if bad:
        examples = Table(title="Mismatch examples", columns=["id", "key", "kind", "detail", "source", "target"])
        for it in bad:
            for m in it.mismatches:
                examples.rows.append(
                    [it.item_id, m.key, m.kind, m.detail, m.source_value or "-", m.target_value or "-"]
                )
        rep.tables.append(examples)
    return rep


def _parity_status(item: ItemParity) -> str:
    """``ok``, the mismatch count, and/or the failed recall gate."""
    problems = []
    if mismatch_total(item.mismatch_counts):
        problems.append(f"{mismatch_total(item.mismatch_counts)} mismatches")
    if not item.recall_ok:
        problems.append(f"recall@10 {item.mean_recall_at_10:.2f} < {item.min_recall:.2f}")
    return "; ".join(problems) or "ok"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _query_parity_table(items: list[ItemParity]) -> Table:
    """Per query: hits on each side, overlap@10, recall@10 (ES top 10 in PG top 50) and latencies."""
    table = Table(
        title="Query parity",
        columns=["id", "query", "ES hits", "PG hits", "delta", "overlap@10", "recall@10", "ES ms", "PG ms", "gated"],
    )
    for it in items:
        for q in it.queries:
            table.rows.append(
                [
                    it.item_id,
                    q.name,
                    "-" if q.es_hits is None else human_count(q.es_hits),
                    "-" if q.pg_hits is None else human_count(q.pg_hits),
                    "-" if q.hit_delta is None else f"{q.hit_delta:+,}",
                    _ratio(q.overlap_at_10),
                    _ratio(q.recall_at_10) + (" (m)" if q.recall_basis == "membership" else ""),
                    "-" if q.es_ms is None else f"{q.es_ms:.1f}",
                    "-" if q.pg_ms is None else f"{q.pg_ms:.1f}",
                    "yes" if q.gated else "no",
                ]
            )
            table.notes += [f"{it.item_id} {q.name}: not translated: {u}" for u in q.unsupported]
            if q.error:
                table.notes.append(f"{it.item_id} {q.name}: {q.error}")
        if any(q.recall_basis == "membership" for q in it.queries):
            table.notes.append(
                f"{it.item_id}: (m) filters are not ranked by PostgreSQL: their recall@10 is the share of the ES "
                "top 10 that PostgreSQL's result contains"
            )
        tied = sum(q.tied for q in it.queries)
        if tied:
            table.notes.append(
                f"{it.item_id}: {tied} ES top-10 hit(s) left out of recall: equal scores tie past rank 50, "
                "so Elasticsearch's pick among them is arbitrary"
            )
        gate = f"gate {it.min_recall:.2f}" if it.min_recall is not None else "no gate"
        es_lat, pg_lat = it.es_latency_ms, it.pg_latency_ms
        table.notes.append(
            f"{it.item_id}: mean recall@10 {_ratio(it.mean_recall_at_10)} ({gate}); latency p50/p95 "
            f"ES {es_lat.get('p50', 0):.1f}/{es_lat.get('p95', 0):.1f} ms, "
            f"PostgreSQL {pg_lat.get('p50', 0):.1f}/{pg_lat.get('p95', 0):.1f} ms"
        )
    return table
