"""``leaderboard``: Redis sorted sets -> ``(board, member, score double precision)`` rows, ranked in SQL.

A Redis score is an IEEE double and so is ``double precision``: every score (``inf``/``-inf``
included) is stored bit for bit. Redis never stores NaN; neither does the table (a CHECK), so
``<table>_incr`` fails on ``inf + -inf`` like ZINCRBY does.

What the template creates besides the table:

* an index ``(board, score DESC, member DESC)`` - exactly ZREVRANGE's order, so top-N reads and
  per-board rankings are index scans without a sort;
* ``<table>_ranked``: live rows with ``rank`` = ZREVRANK (0 = highest score; equal scores are
  ordered by member, reverse lexicographically, like Redis). Redis compares members bytewise
  (memcmp); ``bytea`` does too, and text members get ``COLLATE "C"`` so that text orders by UTF-8
  bytes whatever the database's default collation;
* ``<table>_rank(board, member)`` (ZREVRANK), ``<table>_top(board, n)`` (ZREVRANGE 0 n-1
  WITHSCORES) and ``<table>_incr(board, member, by)`` (ZINCRBY).

Time-indexed sorted sets (``score_time: seconds|milliseconds``: scores that are Unix times, as
in delayed-job schedules) also get a stored generated ``scored_at timestamptz`` column and a
``(board, scored_at)`` index (``to_timestamp(double precision)`` is immutable, so it may be used
in a generated column).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel

from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings import _members as m
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.mappings.set_members import column_bytes, member_converter
from pgconsolidate.models import KeyPattern, PlanItem, TargetCaps, Usage

ScoreTime = Literal["none", "seconds", "milliseconds"]

FLOAT8 = "double precision"
"""``format_type`` name of the score column."""

_F8_FIELD = struct.Struct("!id").pack  # a float8 field: length 8, then the big-endian IEEE double

# to_timestamp(float8) accepts Unix seconds in [-210866803200, 9224318016000) (4714-11-24 BC ..
# 294277-01-01): timestamptz's range. PostgreSQL then rounds to microseconds (rint) and checks the
# result again; both checks are replicated in `fits_timestamptz` so a score that would fail the
# generated column is reported as a DataError naming the option, not as a COPY failure.
_TS_MIN_SECONDS = -210_866_803_200.0
_TS_END_SECONDS = 9_224_318_016_000.0
_PG_EPOCH_US = 946_684_800 * 1_000_000
_TS_MIN_US = -211_813_488_000_000_000
_TS_END_US = 9_223_371_331_200_000_000

TIMESTAMP_YEARS_SECONDS = (946_684_800.0, 4_102_444_800.0)
"""2000-01-01 .. 2100-01-01 in Unix seconds: scores inside this range (both ends) are times."""

CONFIDENCE_REVIEW_BELOW = 0.6
"""A leaderboard usage less certain than this (e.g. a zset that may be a delayed queue) is reviewed."""

BIG_BOARD_ELEMENTS = 100_000
"""Boards at least this big get a note on windowed reads and O(rank) ranking."""


class LeaderboardOptions(c.OptionsBase):
    """``target.options`` of a ``leaderboard`` item."""

    key_type: c.KeyType = "text"
    member_type: c.KeyType = "text"
    score_time: ScoreTime = "none"
    cleanup: c.Cleanup = "none"


# --------------------------------------------------------------------------- scores


def parse_score(raw: Any) -> float | None:
    """A Redis score (bytes such as ``b"3.5"``, ``b"inf"``, ``b"-inf"``; a float in RESP3) as a float.

    None for anything Redis never writes (unparsable text, NaN). Redis prints scores either with
    ``%.17g`` (up to 7.0) or as the shortest round-tripping form (7.2+); Python's ``float`` reads
    both back to the exact same double.
    """
    try:
        score = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(score) else score


def score_seconds(score: float, score_time: str) -> float:
    """The Unix seconds the generated ``scored_at`` column computes from ``score`` (same float8 arithmetic)."""
    return score / 1000.0 if score_time == "milliseconds" else score


def fits_timestamptz(seconds: float) -> bool:
    """True when ``to_timestamp(seconds)`` succeeds in PostgreSQL (infinities map to +-infinity)."""
    if math.isinf(seconds):
        return True
    if math.isnan(seconds) or not _TS_MIN_SECONDS <= seconds < _TS_END_SECONDS:
        return False
    # rint() like the server: Python's round() of a float is round-half-even, as rint is by default.
    us = round(seconds * 1_000_000.0) - _PG_EPOCH_US
    return _TS_MIN_US <= us < _TS_END_US


# --------------------------------------------------------------------------- planner


def timestamp_unit(low: float | None, high: float | None) -> ScoreTime:
    """``seconds``/``milliseconds`` when both sampled score ends are Unix times in 2000..2100, else ``none``."""
    if low is None or high is None:
        return "none"
    lo, hi = TIMESTAMP_YEARS_SECONDS
    if lo <= low <= high <= hi:
        return "seconds"
    if lo * 1000 <= low <= high <= hi * 1000:
        return "milliseconds"
    return "none"


def plan_options(facts: KeyPattern, usage: Usage, caps: TargetCaps) -> c.PlanChoice:
    """The verdict, reason, ``target.options`` and notes for a sorted-set (leaderboard) usage.

    Pure: decided from the sampled facts, the usage (its confidence and hints) and the target's
    capabilities only.
    """
    hint = usage.hints.get("score")
    score_time: ScoreTime
    if hint == "timestamp_s":
        score_time = "seconds"
    elif hint == "timestamp_ms":
        score_time = "milliseconds"
    else:
        score_time = timestamp_unit(facts.score_min, facts.score_max)
    cleanup = c.choose_cleanup(facts.ttl.with_ttl, caps)
    options: dict[str, Any] = {
        "key_type": "bytea" if facts.binary_keys > 0 else "text",
        "member_type": "bytea" if facts.value_shapes.get("binary", 0) > 0 else "text",
        "score_time": score_time,
        "cleanup": cleanup,
    }

    sizes = facts.elements
    size_text = (
        f"{sizes.p50:,.0f} members per key (p50), {sizes.max:,} max"
        if sizes.p50 is not None and sizes.max is not None
        else "member counts not sampled"
    )
    scores_text = (
        f"scores {facts.score_min:g}..{facts.score_max:g}"
        if facts.score_min is not None and facts.score_max is not None
        else "scores not sampled"
    )
    facts_text = f"~{facts.estimated_keys:,} sorted sets, {size_text}, {scores_text}"

    notes = [
        "ZREVRANK -> <table>_rank(board, member), ZREVRANGE 0 n-1 WITHSCORES -> <table>_top(board, n), "
        "ZINCRBY -> <table>_incr(board, member, by); <table>_ranked has every live member with its rank "
        "(ties by member, reverse bytewise, as in Redis)"
    ]
    if score_time != "none":
        notes.append(
            f"scores are Unix times in {score_time}: a generated scored_at timestamptz column with a "
            "(board, scored_at) index answers ZRANGEBYSCORE-by-time. Sorted sets scored by time are often "
            "delayed-job schedules (Sidekiq schedule/retry, RQ registries, BullMQ delayed): if the application "
            "polls them for due jobs, a queue (queue_pgmq) or a SELECT .. FOR UPDATE SKIP LOCKED table may "
            "serve it better than a copy of the set"
        )
    if usage.library:
        notes.append(
            f"key layout of {usage.library}: the library keeps reading and writing Redis, so copying its sorted "
            "sets moves data only; switch the application to the new table (or keep these keys in Redis)"
        )
    if sizes.max is not None and sizes.max >= BIG_BOARD_ELEMENTS:
        notes.append(
            f"boards of up to {sizes.max:,} members are read in windows of {m.CHUNK_ELEMENTS:,} (ZRANGE by rank); "
            "<table>_rank counts the members above one (O(rank), Redis is O(log n)): rank deep members of "
            "big boards sparingly or cache the ranks"
        )
    if cleanup == "sweep":
        notes.append("keys have TTLs and pg_cron is not usable on the target: run `pgconsolidate sweep` periodically")
    if cleanup != "none":
        notes.append(
            f"a board with a TTL expires as a whole: every member row carries expires_at ({cleanup} deletes them)"
        )

    if usage.confidence < CONFIDENCE_REVIEW_BELOW:
        question = (
            f"is this a ranking (read by rank/score) or a delayed/scheduled job queue polled by score? "
            f"usage confidence {usage.confidence:.2f}; {facts_text}. Migrate as a leaderboard table, or "
            "keep it in Redis / move it to a queue"
        )
        return c.PlanChoice("review", question, options, notes)
    what = "time-indexed sorted sets" if score_time != "none" else "sorted sets ranked by score"
    reason = f"{what} -> (board, member, score) rows, index (board, score DESC, member DESC): {facts_text}"
    return c.PlanChoice("migrate", reason, options, notes)


# --------------------------------------------------------------------------- the mapping


class Leaderboard(m.MembersMapping[LeaderboardOptions]):
    """Redis sorted sets as ``(board, member, score, expires_at)`` rows."""

    name: ClassVar[str] = "leaderboard"
    redis_types: ClassVar[frozenset[str]] = frozenset({"zset"})
    Options: ClassVar[type[BaseModel]] = LeaderboardOptions
    collection: ClassVar[m.CollectionType] = m.ZSET

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/leaderboard.sql.j2`` (derived names quoted; a dollar tag for bodies)."""
        opts = self.options(item)
        t = c.target_of(item)
        schema, table = t.schema_name, t.table
        ctx: dict[str, Any] = {
            **c.common_context(item, caps),
            **opts.model_dump(),
            "score_index": c.ident(c.derived_name(table, "_board_score_idx")),
            "scored_at_index": c.ident(c.derived_name(table, "_board_scored_at_idx")),
            "ranked_view": c.ident(schema, c.derived_name(table, "_ranked")),
            "rank_function": c.ident(schema, c.derived_name(table, "_rank")),
            "top_function": c.ident(schema, c.derived_name(table, "_top")),
            "incr_function": c.ident(schema, c.derived_name(table, "_incr")),
            # Always a float8 division (score / 1000 would be too, but say it).
            "scored_at_expr": "to_timestamp(score / 1000.0)"
            if opts.score_time == "milliseconds"
            else "to_timestamp(score)",
        }
        ctx["body_tag"] = c.dollar_tag(ctx["table"], ctx["rank_function"], ctx["top_function"], ctx["incr_function"])
        return ctx

    def columns(self, item: PlanItem) -> Sequence[str]:
        """``board, member, score, expires_at`` (``scored_at`` is generated, never copied)."""
        return ("board", "member", "score", "expires_at")

    def _score_checker(self, item: PlanItem) -> Callable[[bytes, Any], float]:
        """``(key, raw score) -> float``, or the DataError naming the plan field to change."""
        score_time = self.options(item).score_time

        def check(key: bytes, raw: Any) -> float:
            score = parse_score(raw)
            if score is None:
                raise c.data_error(
                    item, "target.mapping", key, f"has a score Redis does not write ({raw!r})", "exclude the key"
                )
            if score_time != "none" and not fits_timestamptz(score_seconds(score, score_time)):
                raise c.data_error(
                    item,
                    "target.options.score_time",
                    key,
                    f"has a score ({score:g}) that is not a Unix time in {score_time} PostgreSQL can store",
                    "set it to none",
                )
            return score

        return check

    def element_rows(self, record: SourceRecord, elements: m.Elements, item: PlanItem) -> list[tuple[Any, ...]]:
        """One row per (member, score) pair (validated)."""
        opts = self.options(item)
        key = c.key_converter(item, opts.key_type)(record.key)
        member = member_converter(item, opts.member_type)
        score = self._score_checker(item)
        expires = c.ms_to_datetime(record.expires_at_ms)
        return [(key, member(record.key, mb), score(record.key, raw), expires) for mb, raw in elements]

    def encode_elements(
        self, item: PlanItem, column_types: Sequence[str]
    ) -> Callable[[SourceRecord, m.Elements], bytes] | None:
        """Binary rows: key and member as the raw Redis bytes, the score as a big-endian float8.

        The score is parsed here (the server cannot check Redis' text form); a score the server
        would reject (NaN, or outside timestamptz for ``scored_at``) gets the DataError of
        :meth:`element_rows` instead of a COPY failure.
        """
        opts = self.options(item)
        if list(column_types) != [opts.key_type, opts.member_type, FLOAT8, c.TIMESTAMPTZ]:
            return None
        head, flen, ts, f8 = c.FIELD_HEAD, c.FIELD_LEN, c.timestamptz_field, _F8_FIELD
        score_time = opts.score_time
        timed = score_time != "none"
        rows = self.element_rows

        def encode(record: SourceRecord, elements: m.Elements) -> bytes:
            key = record.key
            prefix = head(4, len(key)) + key
            suffix = ts(record.expires_at_ms)
            out: list[bytes] = []
            append = out.append
            for member, raw in elements:
                try:
                    score = float(raw)
                except (TypeError, ValueError):
                    score = math.nan
                if score != score or (timed and not fits_timestamptz(score_seconds(score, score_time))):
                    rows(record, [(member, raw)], item)  # raises the DataError naming key and field
                    raise AssertionError("unreachable: element_rows accepted a score the encoder rejects")
                append(prefix + flen(len(member)) + member + f8(8, score) + suffix)
            return b"".join(out)

        return encode

    def target_rows(
        self, conn: psycopg.Connection[Any], item: PlanItem, table: sql.Composable, pg_keys: Sequence[Any]
    ) -> dict[bytes, tuple[Any, ...]]:
        """``{key: (board, [members], [scores], max expires_at)}``.

        Both aggregates of a group consume the group's rows in the same order, so the i-th score
        belongs to the i-th member.
        """
        query = m.aggregate_query(sql.Identifier("board"), table, sql.SQL("array_agg(member), array_agg(score)"))
        with conn.cursor() as cur:
            cur.execute(query, (list(pg_keys),))
            return {m.key_bytes(row[0]): row for row in cur}

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """``{member bytes: score float}`` (verify compares the floats with a tolerance)."""
        check = self._score_checker(item)
        value = {bytes(mb): check(record.key, raw) for mb, raw in m.materialize(record.value)}
        return Canonical("zset", value, record.expires_at_ms)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Aggregated members and scores back as ``{member bytes: score float}``."""
        value = {column_bytes(mb): float(score) for mb, score in zip(row[1], row[2], strict=True)}
        return Canonical("zset", value, c.datetime_to_ms(row[3]))
