"""Classify what an Elasticsearch index (or family / data stream) is used for, with evidence (pure).

Elasticsearch does not record which queries ran, so the usage is read from the mapping and the
shape of the data: a time-based family with a time field is log/time-series data; a
``dense_vector`` field means vector search; analyzed ``text`` fields mean full-text search;
``geo_point``/``geo_shape`` mean geo queries; keyword/numeric-only mappings mean term lookups.
One kind wins (in that order); the others present are listed in ``hints["also"]``, and every
decision comes with evidence lines that carry the numbers.

:func:`keep_reason` says when an index should stay on Elasticsearch (see docs/elasticsearch.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pgconsolidate.models import Evidence, Usage, UsageKind
from pgconsolidate.models_es import EsField, EsIndexFacts
from pgconsolidate.report.fmt import human_bytes, human_count

TEXT_TYPES = frozenset({"text", "match_only_text", "search_as_you_type", "annotated_text"})
LOOKUP_TYPES = frozenset(
    {
        "keyword", "constant_keyword", "wildcard", "long", "integer", "short", "byte", "double", "float",
        "half_float", "scaled_float", "unsigned_long", "boolean", "ip", "date", "date_nanos", "version",
    }
)  # fmt: skip
VECTOR_TYPES = frozenset({"dense_vector"})
GEO_TYPES = frozenset({"geo_point", "geo_shape", "point", "shape"})

MAX_DOCS = 100_000_000
"""Above this many documents an index is kept on Elasticsearch (a one-shot copy and a GIN index
rebuild of that size is a project of its own, not a consolidation step)."""

AGG_MIN_QUERIES = 10_000
AGG_MAX_FETCH_RATIO = 0.2
AGG_MIN_DOCS = 10_000_000


def aggregation_share(search_stats: Mapping[str, int]) -> float | None:
    """Share of searches that fetched no documents (``size: 0``: counts and aggregations), or None.

    The query phase runs for every search, the fetch phase only when hits are returned, so
    ``1 - fetch_total / query_total`` estimates how many searches were aggregations/counts. None
    when there are fewer than :data:`AGG_MIN_QUERIES` queries (too few to judge). This is the hook
    for a better signal (slow logs, a query sample) when one is available.
    """
    queries = int(search_stats.get("query_total", 0))
    if queries < AGG_MIN_QUERIES:
        return None
    fetches = int(search_stats.get("fetch_total", 0))
    return max(0.0, 1.0 - fetches / queries)


def _names(fields: Sequence[EsField], limit: int = 4) -> str:
    shown = ", ".join(f.path for f in fields[:limit])
    return shown + (f", ... (+{len(fields) - limit})" if len(fields) > limit else "")


def _size_line(facts: EsIndexFacts) -> Evidence:
    what = f"{len(facts.indices)} indices" if len(facts.indices) > 1 else "1 index"
    return Evidence(
        signal="size",
        detail=f"{human_count(facts.docs_count)} documents in {what}, {human_bytes(facts.store_bytes)} primary store, "
        f"{facts.primary_shards} primary shard(s), {facts.replicas} replica(s)",
    )


def classify_index(facts: EsIndexFacts) -> Usage:
    """The usage of one index/family with evidence lines (pure; order: log, vector, text, geo, lookup)."""
    fields = facts.fields
    fits = {a.name: a for a in facts.analyzers}

    def tokenized(f: EsField) -> bool:
        """False for text analyzed as one token (the ``keyword`` analyzer): exact values, a lookup."""
        fit = fits.get(f.analyzer or "default") or fits.get(f.analyzer or "standard")
        return fit is None or fit.ts_config is not None or fit.partial_match

    text = [f for f in fields if f.type in TEXT_TYPES and f.index and tokenized(f)]
    lookups = [
        f
        for f in fields
        if f.multi_field_of is None and (f.type in LOOKUP_TYPES or (f.type in TEXT_TYPES and not tokenized(f)))
    ]
    vectors = [f for f in fields if f.type in VECTOR_TYPES]
    geo = [f for f in fields if f.type in GEO_TYPES]
    full_text_analyzers = [a for a in facts.analyzers if a.ts_config is not None or a.partial_match]
    evidence: list[Evidence] = [_size_line(facts)]

    time_based = (facts.family or facts.data_stream is not None) and facts.time_field is not None
    if facts.data_stream:
        evidence.append(
            Evidence(
                signal="data_stream",
                detail=f"data stream {facts.data_stream} ({len(facts.indices)} backing indices), "
                f"time field {facts.time_field or '?'}",
            )
        )
    elif facts.family:
        span = f"{facts.indices[0]} .. {facts.indices[-1]}" if len(facts.indices) > 1 else facts.indices[0]
        evidence.append(
            Evidence(
                signal="family",
                detail=f"{len(facts.indices)} {facts.family_period or 'time'}-suffixed indices ({span}) "
                f"grouped as {facts.name}, time field {facts.time_field or 'not found'}",
            )
        )
    if text:
        shown = ", ".join(f"{a.name} -> {a.ts_config!r}" for a in facts.analyzers) or "standard -> 'simple'"
        evidence.append(
            Evidence(
                signal="text_fields", detail=f"{len(text)} analyzed text field(s) ({_names(text)}); analyzers: {shown}"
            )
        )
    for an in facts.analyzers:
        for gap in an.gaps[:3]:
            evidence.append(Evidence(signal="analyzer_gap", detail=f"analyzer {an.name}: {gap}"))
    for v in vectors:
        evidence.append(
            Evidence(
                signal="dense_vector",
                detail=f"dense_vector {v.path}: {v.dims or '?'} dims, {v.similarity or 'cosine'} similarity, "
                f"{v.element_type or 'float'} elements",
            )
        )
    for g in geo:
        evidence.append(Evidence(signal="geo", detail=f"{g.type} field {g.path}"))
    if lookups and not text:
        evidence.append(
            Evidence(
                signal="lookup_fields",
                detail=f"{len(lookups)} keyword/numeric/date field(s) ({_names(lookups)}) and no analyzed text: "
                "term/range lookups",
            )
        )
    stats = facts.search_stats
    if stats:
        queries, fetches = stats.get("query_total", 0), stats.get("fetch_total", 0)
        ratio = f", fetch/query {fetches / queries:.2f}" if queries else ""
        evidence.append(
            Evidence(
                signal="search_stats",
                detail=f"_stats: {human_count(queries)} queries, {human_count(fetches)} fetches{ratio}, "
                f"{human_count(stats.get('index_total', 0))} index operations (since the shards opened)",
            )
        )
    for conflict in facts.field_conflicts[:3]:
        evidence.append(Evidence(signal="field_conflict", detail=f"members disagree on {conflict}"))
    for alias in facts.aliases:
        kind = "filtered alias" if alias.filter else "alias"
        write = ", write index" if alias.is_write_index else ""
        evidence.append(
            Evidence(signal="alias", detail=f"{kind} {alias.name} -> {len(alias.indices)} index(es){write}")
        )

    present: list[UsageKind] = []
    if time_based:
        present.append(UsageKind.LOG_TIMESERIES)
    if vectors:
        present.append(UsageKind.VECTOR_SEARCH)
    if text and full_text_analyzers:
        present.append(UsageKind.FULL_TEXT)
    if geo:
        present.append(UsageKind.GEO)
    if lookups and not present:
        present.append(UsageKind.KEYWORD_LOOKUP)

    if not present:
        kind, confidence = UsageKind.UNKNOWN, 0.3
        evidence.append(Evidence(signal="mapping", detail=f"{len(fields)} mapped field(s): nothing that names a usage"))
    else:
        kind = present[0]
        confidence = {
            UsageKind.LOG_TIMESERIES: 0.95 if facts.data_stream else 0.85,
            UsageKind.VECTOR_SEARCH: 0.9,
            UsageKind.FULL_TEXT: min(0.9, 0.6 + 0.1 * len(text)),
            UsageKind.GEO: 0.8,
            UsageKind.KEYWORD_LOOKUP: 0.75,
        }[kind]
    hints: dict[str, str] = {}
    if len(present) > 1:
        hints["also"] = ",".join(k.value for k in present[1:])
    if facts.time_field:
        hints["time_field"] = facts.time_field
    if any(a.partial_match for a in facts.analyzers) or any(
        f.type in ("search_as_you_type", "wildcard") for f in fields
    ):
        hints["partial_match"] = "pg_trgm"
    reason = keep_reason(facts)
    if reason:
        evidence.append(Evidence(signal="keep", detail=reason))
        hints["keep"] = reason
    return Usage(kind=kind, confidence=round(confidence, 2), evidence=evidence, hints=hints)


def keep_reason(facts: EsIndexFacts) -> str | None:
    """Why this index should stay on Elasticsearch, or None (pure; several reasons joined by '; ').

    More than :data:`MAX_DOCS` documents; a ``percolator`` field; an analyzer PostgreSQL has no
    equivalent for (names the filter/tokenizer); script-computed runtime fields; ``_source``
    disabled (documents cannot be read back); aggregation-heavy on a large index (most searches
    fetch nothing: see :func:`aggregation_share`).
    """
    reasons: list[str] = []
    if facts.docs_count > MAX_DOCS:
        reasons.append(
            f"{human_count(facts.docs_count)} documents (> {human_count(MAX_DOCS)}): too large for a consolidation copy"
        )
    for f in facts.fields:
        if f.type == "percolator":
            reasons.append(
                f"percolator field {f.path}: stored queries matched against documents (no PostgreSQL equivalent)"
            )
    for an in facts.analyzers:
        if an.no_equivalent:
            reasons.append(f"analyzer {an.name}: " + "; ".join(an.no_equivalent))
    if facts.runtime_fields:
        names = ", ".join(sorted(facts.runtime_fields))
        reasons.append(
            f"runtime field(s) {names}: computed by scripts at query time (painless has no PostgreSQL runtime)"
        )
    if not facts.source_enabled:
        reasons.append("_source is disabled: the documents cannot be read back to copy them")
    share = aggregation_share(facts.search_stats)
    if share is not None and share >= 1 - AGG_MAX_FETCH_RATIO and facts.docs_count >= AGG_MIN_DOCS:
        reasons.append(
            f"aggregation-heavy: {share:.0%} of {human_count(facts.search_stats.get('query_total', 0))} searches "
            f"fetched no documents (counts/aggregations) over {human_count(facts.docs_count)} documents"
        )
    return "; ".join(reasons) or None
