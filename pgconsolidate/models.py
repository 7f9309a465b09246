"""Inert, serialisable models shared by every stage: Inventory, Usage, Plan, reports.

No I/O lives here. The Inventory is what ``analyze`` observed; the Plan is what ``plan`` decided
and what ``migrate``/``verify`` execute; the reports are what those commands return. Rendering
(console, Markdown, JSON), executing and printing SQL are separate consumers of these objects.

Models are strict (``extra="forbid"``) so a typo in a hand-edited plan file is reported with its
exact path instead of being ignored.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

INVENTORY_FORMAT_VERSION = 1
PLAN_FORMAT_VERSION = 1


class Strict(BaseModel):
    """Base for every model: unknown fields are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


# --------------------------------------------------------------------------- usages


class UsageKind(StrEnum):
    """What an application uses a group of keys (or an index) for."""

    CACHE = "cache"
    SESSION = "session"
    COUNTER = "counter"
    JSON_DOCUMENT = "json_document"
    OBJECT_HASH = "object_hash"
    RATE_LIMIT = "rate_limit"
    LOCK = "lock"
    QUEUE = "queue"
    SET = "set"
    LEADERBOARD = "leaderboard"
    STREAM = "stream"
    PUBSUB = "pubsub"
    FULL_TEXT = "full_text"
    KEYWORD_LOOKUP = "keyword_lookup"
    LOG_TIMESERIES = "log_timeseries"
    VECTOR_SEARCH = "vector_search"
    GEO = "geo"
    UNKNOWN = "unknown"


class Evidence(Strict):
    """One observed fact that supports a classification, phrased for a human reviewer."""

    signal: str = Field(description="machine name of the signal, e.g. 'ttl', 'key_name', 'value_shape'")
    detail: str = Field(description="what was observed, e.g. '97% of 1,204 sampled keys have a TTL'")


class Usage(Strict):
    """A classified usage with a confidence in [0, 1] and the evidence behind it."""

    kind: UsageKind
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    library: str | None = Field(None, description="library whose key layout this is, e.g. 'RQ', 'Celery (kombu)'")
    hints: dict[str, str] = Field(
        default_factory=dict,
        description="machine-readable facts for the planner: pop_end=left|right (which end consumers pop "
        "from), role=processing|registry|index|expiry_marker|metadata|..., score=timestamp_s|timestamp_ms, "
        "set=tags, ... (see docs/analyzer.md)",
    )

    @model_serializer(mode="wrap")
    def _omit_empty_extras(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``library``/``hints`` out when unset, so plans and inventories without them stay byte-identical."""
        data: dict[str, Any] = handler(self)
        if data.get("library") is None:
            data.pop("library", None)
        if not data.get("hints"):
            data.pop("hints", None)
        return data


Verdict = Literal["migrate", "keep", "review"]


# --------------------------------------------------------------------------- Redis inventory

TTL_BUCKETS: tuple[str, ...] = ("none", "<1h", "1-4h", "4-12h", "12-24h", "1-7d", ">7d")
"""Fixed TTL bucket labels, in display order."""


class TTLStats(Strict):
    """TTL facts over the sampled keys of one pattern (seconds)."""

    with_ttl: int = 0
    without_ttl: int = 0
    p50_seconds: float | None = None
    p95_seconds: float | None = None
    buckets: dict[str, int] = Field(default_factory=dict, description="keys per TTL_BUCKETS label")

    @property
    def ratio(self) -> float:
        """Share of sampled keys that have a TTL (0 when nothing was sampled)."""
        total = self.with_ttl + self.without_ttl
        return self.with_ttl / total if total else 0.0


class SizeStats(Strict):
    """Distribution of a per-key number (MEMORY USAGE bytes, element counts)."""

    count: int = 0
    total: int = 0
    p50: float | None = None
    p95: float | None = None
    max: int | None = None


class StreamConsumer(Strict):
    """One consumer of a stream consumer group (XINFO CONSUMERS)."""

    name: str
    pending: int = 0
    idle_ms: int | None = None


class StreamGroup(Strict):
    """One consumer group of a sampled stream key (XINFO GROUPS); ``lag`` needs Redis >= 7.0."""

    key: str
    name: str
    consumers: int = 0
    pending: int = 0
    last_delivered_id: str = "0-0"
    entries_read: int | None = None
    lag: int | None = None
    consumer_details: list[StreamConsumer] = Field(default_factory=list, description="first consumers only")


class KeyPattern(Strict):
    """A family of keys that share a shape, e.g. ``session:{uuid}``, with what the sample showed."""

    db: int = 0
    pattern: str = Field(description="key shape with placeholders: {id} {uuid} {hex} {hash} {date} {email} ...")
    regex: str = Field(description="Python regex (fullmatch, over the key decoded as UTF-8/surrogateescape)")
    match_glob: str = Field(description="glob for SCAN MATCH; a superset of the regex, filtered client-side")
    redis_type: str = Field(description="string | hash | list | set | zset | stream")
    sampled_keys: int
    estimated_keys: int = Field(description="sampled_keys extrapolated against DBSIZE")
    example_keys: list[str] = Field(default_factory=list, description="up to 3, non-UTF-8 bytes escaped")
    ttl: TTLStats = Field(default_factory=TTLStats)
    memory: SizeStats = Field(default_factory=SizeStats, description="MEMORY USAGE bytes per key")
    elements: SizeStats = Field(default_factory=SizeStats, description="HLEN/LLEN/SCARD/ZCARD/XLEN per key")
    encodings: dict[str, int] = Field(default_factory=dict, description="OBJECT ENCODING -> keys")
    value_shapes: dict[str, int] = Field(
        default_factory=dict,
        description="json_object|json_array|json_scalar|integer|float|text|binary|empty -> count of sampled "
        "values (strings; hashes: field values; lists: items at both ends; sets: sampled members)",
    )
    hash_fields: dict[str, int] = Field(default_factory=dict, description="field -> sampled keys having it")
    binary_keys: int = Field(0, description="sampled keys whose name is not valid UTF-8")
    token_values: int = Field(
        0, description="sampled string values that look like random tokens (hex/UUID/base64url, 16-64 chars)"
    )
    score_min: float | None = Field(None, description="zsets: lowest score seen (ZRANGE 0 0 WITHSCORES per key)")
    score_max: float | None = Field(None, description="zsets: highest score seen (ZRANGE -1 -1 WITHSCORES per key)")
    members_sampled: int = Field(0, description="sets: members read (SRANDMEMBER, a few per key)")
    members_tag_like: int = Field(0, description="sets: sampled members that are short words/tags")
    stream_groups: list[StreamGroup] = Field(
        default_factory=list, description="streams: XINFO GROUPS (+ CONSUMERS) of the first sampled keys"
    )


class PatternReport(Strict):
    """A key pattern with its classified usage."""

    facts: KeyPattern
    usage: Usage


class ChannelReport(Strict):
    """An active pub/sub channel (PUBSUB CHANNELS / NUMSUB) with its classified usage."""

    channel: str
    subscribers: int
    usage: Usage
    messages_observed: int = Field(0, description="messages received while subscribed during --observe")
    max_payload_bytes: int | None = Field(
        None, description="largest payload seen during --observe (None: not measured, e.g. no --observe)"
    )


class CommandStat(Strict):
    """One INFO commandstats line."""

    calls: int
    usec: int
    usec_per_call: float = 0.0


class CommandRate(Strict):
    """Per-second rate of one command over an observation window (INFO commandstats deltas)."""

    calls_per_sec: float
    usec_per_call: float = 0.0


class ObservedRates(Strict):
    """``analyze --observe N``: commandstats read twice ``seconds`` apart, as rates."""

    seconds: float = Field(description="measured wall time between the two INFO commandstats reads")
    total_calls_per_sec: float = 0.0
    commands: dict[str, CommandRate] = Field(default_factory=dict, description="command -> rate (calls > 0 only)")
    channel_payloads: dict[str, tuple[int, int]] = Field(
        default_factory=dict,
        description="active channel -> (messages, largest payload bytes) seen while subscribed for the window",
    )


class RedisServerInfo(Strict):
    """Server-level facts from INFO, CONFIG, PUBSUB and CLIENT LIST."""

    redis_version: str
    mode: str = "standalone"
    used_memory: int = 0
    maxmemory: int = 0
    maxmemory_policy: str | None = None
    keyspace: dict[int, int] = Field(default_factory=dict, description="db -> DBSIZE")
    commandstats: dict[str, CommandStat] = Field(default_factory=dict)
    pubsub_numpat: int = 0
    client_libraries: dict[str, int] = Field(default_factory=dict, description="lib-name -> connections")
    connected_clients: int = 0
    blocked_clients: int = 0
    blocked_commands: dict[str, int] = Field(
        default_factory=dict, description="CLIENT LIST: blocked clients (flag b) per command, e.g. brpop -> 4"
    )
    uptime_seconds: int = Field(0, description="INFO server uptime_in_seconds (lifetime commandstats window)")
    observed: ObservedRates | None = Field(None, description="set by analyze --observe SECONDS")


class SampleInfo(Strict):
    """How much of the keyspace the analyzer actually looked at."""

    requested: int
    scanned_keys: int
    dbsize: int
    complete: bool = Field(description="true when every key of the database was sampled")


class RedisInventory(Strict):
    """Everything ``analyze`` learned about one Redis database."""

    url: str = Field(description="redacted")
    db: int = 0
    fingerprint: str
    server: RedisServerInfo
    sample: SampleInfo
    patterns: list[PatternReport] = Field(default_factory=list)
    channels: list[ChannelReport] = Field(default_factory=list)


class Inventory(Strict):
    """Output of ``analyze``: facts and classified usages for every source inspected."""

    format_version: int = INVENTORY_FORMAT_VERSION
    tool_version: str
    generated_at: str = Field(description="ISO-8601 UTC")
    redis: RedisInventory | None = None
    elasticsearch: EsInventory | None = None


# --------------------------------------------------------------------------- target capabilities


class TargetCaps(Strict):
    """What the target PostgreSQL server has, as probed by :mod:`pgconsolidate.pg`."""

    url: str | None = Field(None, description="redacted; None means the embedded default target")
    server_version: str
    server_version_num: int
    database: str
    system_identifier: str
    extensions_installed: dict[str, str] = Field(default_factory=dict, description="name -> version")
    extensions_available: dict[str, str] = Field(default_factory=dict, description="name -> default version")
    cron_database: str | None = Field(
        None,
        description="cron.database_name when pg_cron is preloaded (its jobs are created there), else None",
    )
    fingerprint: str

    @property
    def major(self) -> int:
        """Major version, e.g. 18."""
        return self.server_version_num // 10000

    @property
    def has_uuidv7(self) -> bool:
        """``uuidv7()`` is built in from PostgreSQL 18 on."""
        return self.server_version_num >= 180000

    @property
    def has_pg_cron(self) -> bool:
        """pg_cron can schedule jobs: the extension exists and is preloaded (``cron.database_name`` is set)."""
        return self.can_use("pg_cron") and bool(self.cron_database)

    def can_use(self, extension: str) -> bool:
        """True when the extension is installed, or available to ``CREATE EXTENSION``."""
        return extension in self.extensions_installed or extension in self.extensions_available


# --------------------------------------------------------------------------- the plan


class RedisSource(Strict):
    """Where a plan item's data comes from in Redis, with the facts the decision used."""

    kind: Literal["redis"] = "redis"
    db: int = 0
    pattern: str
    regex: str
    match_glob: str
    redis_type: str
    estimated_keys: int = 0
    sampled_keys: int = 0
    ttl_ratio: float = 0.0
    ttl_p50_seconds: float | None = None
    value_shapes: dict[str, int] = Field(default_factory=dict)


class RedisChannelSource(Strict):
    """A pub/sub channel (nothing to copy; guidance only)."""

    kind: Literal["redis_channel"] = "redis_channel"
    channel: str
    subscribers: int = 0


class TargetSpec(Strict):
    """The PostgreSQL construct a plan item becomes. ``options`` are validated by the mapping."""

    mapping: str = Field(description="name of a mapping in pgconsolidate.mappings.MAPPINGS")
    schema_name: str = Field("public", alias="schema")
    table: str
    options: dict[str, Any] = Field(default_factory=dict)


class CopyOptions(Strict):
    """How ``migrate`` copies one item."""

    batch_size: int = Field(5000, ge=1, le=1_000_000)
    scan_count: int = Field(1000, ge=1, le=100_000, description="SCAN COUNT hint")


class VerifyOptions(Strict):
    """How ``verify`` checks one item."""

    sample: int = Field(1000, ge=0, description="keys read from both sides (seeded)")
    ttl_tolerance_seconds: float = Field(5.0, ge=0)


class PlanItem(Strict):
    """One decision: a source usage, its verdict and (for ``migrate``) its target construct."""

    id: str = Field(description="stable id, derived from the source (kind, db, pattern)")
    source: RedisSource | RedisChannelSource | EsSource = Field(discriminator="kind")
    usage: Usage
    verdict: Verdict
    reason: str = Field(description="why this verdict; for review: the question to answer")
    target: TargetSpec | None = None
    copy_options: CopyOptions = Field(default_factory=CopyOptions, alias="copy")
    verify: VerifyOptions = Field(default_factory=VerifyOptions)
    notes: list[str] = Field(default_factory=list)


class PlanSource(Strict):
    """A source the plan reads from (redacted URL + fingerprint to refuse a stale plan)."""

    kind: Literal["redis", "elasticsearch"]
    url: str
    fingerprint: str


class PlanTarget(Strict):
    """The target the plan was made for; ``migrate`` refuses a different one."""

    url: str | None = None
    server_version: str
    fingerprint: str
    extensions: list[str] = Field(default_factory=list, description="installed or available when planned")


class Plan(Strict):
    """The reviewable contract between ``plan`` and ``migrate``."""

    format_version: int = PLAN_FORMAT_VERSION
    tool_version: str
    generated_at: str
    sources: list[PlanSource]
    target: PlanTarget
    items: list[PlanItem]

    def item(self, item_id: str) -> PlanItem:
        """Return the item with ``item_id`` (KeyError if absent)."""
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def migratable(self, only: set[str] | None = None) -> list[PlanItem]:
        """Items whose verdict is ``migrate`` (the only ones DDL/copy/verify act on), in plan order.

        ``only`` narrows them to those ids; an id the plan lacks, or one whose verdict is not
        ``migrate``, raises :class:`~pgconsolidate.errors.UsageError` (a typo must never silently
        copy or verify nothing).
        """
        items = [it for it in self.items if it.verdict == "migrate" and it.target is not None]
        if not only:
            return items
        known = {it.id: it for it in self.items}
        unknown = sorted(only - set(known))
        if unknown:
            import difflib

            from pgconsolidate.errors import UsageError

            guesses = [g for u in unknown for g in difflib.get_close_matches(u, list(known), n=1)]
            hint = f"did you mean {', '.join(guesses)}?" if guesses else "item ids are listed in the plan file"
            raise UsageError(f"no plan item with id {', '.join(unknown)}", hint=hint)
        inert = sorted(i for i in only if known[i].verdict != "migrate" or known[i].target is None)
        if inert:
            from pgconsolidate.errors import UsageError

            verdicts = ", ".join(f"{i} ({known[i].verdict})" for i in inert)
            raise UsageError(f"only items with verdict 'migrate' are copied and verified: {verdicts}")
        return [it for it in items if it.id in only]


# --------------------------------------------------------------------------- execution reports


class ItemCopyResult(Strict):
    """What ``migrate`` did for one item."""

    item_id: str
    table: str
    mode: Literal["copy", "upsert", "skipped"] = Field(
        description="copy: fast first load; upsert: re-run/resume; skipped: done already, or nothing to copy"
    )
    keys: int = Field(0, description="Redis keys copied (one row each, or many for sets, zsets, lists, streams)")
    rows: int = 0
    vanished: int = Field(0, description="keys SCAN returned that expired/were deleted before they were read")
    unmatched: int = Field(0, description="keys the glob returned that belong to no item's regex")
    resumed: bool = False
    seconds: float = 0.0
    rejected: int = Field(0, description="Elasticsearch: documents sent to the reject files (--on-error continue)")
    source_count: int | None = Field(
        None, description="Elasticsearch: documents in the point in time read (copied + rejected must equal it)"
    )
    slices: int = Field(0, description="Elasticsearch: parallel sliced readers used")
    notes: list[str] = Field(default_factory=list, description="what the run decided, e.g. a PIT-expired re-copy")

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class MigrateReport(Strict):
    """Output of ``migrate``."""

    plan: str
    target: str | None
    dry_run: bool = False
    run_id: str | None = Field(None, description="row id in pgconsolidate.runs on the target")
    ddl_statements: int = 0
    items: list[ItemCopyResult] = Field(default_factory=list)
    seconds: float = 0.0


MismatchKind = Literal["missing", "extra", "type", "value", "ttl"]


class Mismatch(Strict):
    """One difference found by ``verify``. Values are redacted unless ``--show-values``."""

    key: str
    kind: MismatchKind
    detail: str = ""
    source_value: str | None = None
    target_value: str | None = None


class QueryParity(Strict):
    """One query of an Elasticsearch item's query-parity set, run on both sides."""

    name: str = Field(description="e.g. 'q3 match body:socket', or the line number of the user's file")
    query: dict[str, Any] = Field(description="the search body sent to Elasticsearch")
    es_hits: int | None = None
    pg_hits: int | None = None
    hit_delta: int | None = Field(None, description="pg_hits - es_hits")
    overlap_at_10: float | None = Field(None, description="|ES top 10 ∩ PG top 10| / |ES top 10|")
    recall_at_10: float | None = Field(None, description="share of the ES top-10 ids found in the PG top 50")
    es_ms: float | None = Field(None, description="Elasticsearch 'took' of the size-50 search (ms)")
    pg_ms: float | None = Field(None, description="PostgreSQL wall time of the translated size-50 query (ms)")
    unsupported: list[str] = Field(
        default_factory=list, description="clauses the translator could not express: excluded from the gate"
    )
    error: str | None = Field(None, description="why the query could not run on one side (excluded from the gate)")
    recall_basis: Literal["top50", "membership"] = Field(
        "top50",
        description="top50: ES top-10 ids in the PostgreSQL top 50 (ranked queries); membership: in the "
        "PostgreSQL result at all (filters, which PostgreSQL does not rank)",
    )
    tied: int = Field(
        0,
        description="ES top-10 hits left out of recall: tied with the hit at rank 50 while more hits exist "
        "(an arbitrary pick among equal scores)",
    )

    @property
    def gated(self) -> bool:
        """True when the query counts toward the recall gate (fully translated, ran on both sides)."""
        return not self.unsupported and self.error is None and self.recall_at_10 is not None


class ItemParity(Strict):
    """Parity of one item: counts, sampled (or full) dual reads, mismatches by kind."""

    item_id: str
    table: str
    source_count: int
    target_count: int
    checked: int = Field(description="keys compared value by value")
    full: bool = False
    mismatch_counts: dict[str, int] = Field(default_factory=dict)
    mismatches: list[Mismatch] = Field(default_factory=list, description="first examples, capped")
    seconds: float = 0.0
    rejected: int = Field(0, description="Elasticsearch: documents the copy rejected (not counted as missing)")
    queries: list[QueryParity] = Field(default_factory=list, description="Elasticsearch: query parity, per query")
    min_recall: float | None = Field(None, description="Elasticsearch: the recall@10 gate (mean over gated queries)")
    mean_recall_at_10: float | None = None
    es_latency_ms: dict[str, float] = Field(default_factory=dict, description="p50/p95 of the ES searches")
    pg_latency_ms: dict[str, float] = Field(default_factory=dict, description="p50/p95 of the translated queries")

    @property
    def recall_ok(self) -> bool:
        """True unless query parity ran and its mean recall@10 is below ``min_recall``."""
        if self.min_recall is None or self.mean_recall_at_10 is None:
            return True
        return self.mean_recall_at_10 >= self.min_recall

    @property
    def ok(self) -> bool:
        """True when no mismatch of any kind was found (and the recall gate, if any, passed)."""
        return not any(self.mismatch_counts.values()) and self.recall_ok


class ParityReport(Strict):
    """Output of ``verify``."""

    plan: str
    target: str | None
    seed: int
    full: bool
    items: list[ItemParity] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every item matched."""
        return all(it.ok for it in self.items)


# The Elasticsearch models live in their own module (they import Strict and Usage from here);
# the Inventory and PlanItem annotations above name them, resolved now that both modules exist.
from pgconsolidate.models_es import EsInventory, EsSource  # noqa: E402

Inventory.model_rebuild()
PlanItem.model_rebuild()
Plan.model_rebuild()
