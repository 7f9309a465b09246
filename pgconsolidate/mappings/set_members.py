"""``set_members``: Redis sets -> a table of ``(set_key, member)`` rows, primary key on both.

SISMEMBER becomes a primary-key probe, SMEMBERS an index range scan, SCARD a count. With
``member_index`` (chosen for tag-like sets) a second index on ``member`` answers the reverse
question Redis cannot: which sets contain this member.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import sql
from pydantic import BaseModel

from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings import _members as m
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import KeyPattern, PlanItem, TargetCaps, Usage


class SetMembersOptions(c.OptionsBase):
    """``target.options`` of a ``set_members`` item."""

    key_type: c.KeyType = "text"
    member_type: c.KeyType = "text"
    member_index: bool = False
    cleanup: c.Cleanup = "none"


def member_converter(
    item: PlanItem, member_type: str, field: str = "target.options.member_type"
) -> Callable[[bytes, bytes], Any]:
    """``(key, member) -> column value``: bytes for bytea; UTF-8 text without NUL, else a DataError."""
    if member_type == "bytea":
        return lambda key, member: member

    def to_text(key: bytes, member: bytes) -> str:
        try:
            text = member.decode("utf-8")
        except UnicodeDecodeError:
            raise c.data_error(item, field, key, "has a member that is not valid UTF-8", "set it to bytea") from None
        if "\x00" in text:
            raise c.data_error(item, field, key, "has a member with a NUL byte", "set it to bytea")
        return text

    return to_text


def column_bytes(value: Any) -> bytes:
    """A text/bytea column value back as the Redis bytes."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class SetMembers(m.MembersMapping[SetMembersOptions]):
    """Redis sets as ``(set_key, member, expires_at)`` rows."""

    name: ClassVar[str] = "set_members"
    redis_types: ClassVar[frozenset[str]] = frozenset({"set"})
    Options: ClassVar[type[BaseModel]] = SetMembersOptions
    collection: ClassVar[m.CollectionType] = m.SET

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/set_members.sql.j2``."""
        t = c.target_of(item)
        return {
            **c.common_context(item, caps),
            **self.options(item).model_dump(),
            "member_index_name": c.ident(c.derived_name(t.table, "_member_idx")),
        }

    def columns(self, item: PlanItem) -> Sequence[str]:
        """``set_key, member, expires_at``."""
        return ("set_key", "member", "expires_at")

    def element_rows(self, record: SourceRecord, elements: m.Elements, item: PlanItem) -> list[tuple[Any, ...]]:
        """One row per member (validated)."""
        opts = self.options(item)
        key = c.key_converter(item, opts.key_type)(record.key)
        member = member_converter(item, opts.member_type)
        expires = c.ms_to_datetime(record.expires_at_ms)
        return [(key, member(record.key, mb), expires) for mb in elements]

    def encode_elements(
        self, item: PlanItem, column_types: Sequence[str]
    ) -> Callable[[SourceRecord, m.Elements], bytes] | None:
        """Binary rows straight from the Redis bytes (the server validates UTF-8 for text columns)."""
        opts = self.options(item)
        if list(column_types) != [opts.key_type, opts.member_type, c.TIMESTAMPTZ]:
            return None
        head, flen, ts = c.FIELD_HEAD, c.FIELD_LEN, c.timestamptz_field

        def encode(record: SourceRecord, elements: m.Elements) -> bytes:
            key = record.key
            prefix = head(3, len(key)) + key
            suffix = ts(record.expires_at_ms)
            return b"".join(prefix + flen(len(mb)) + mb + suffix for mb in elements)

        return encode

    def target_rows(
        self, conn: psycopg.Connection[Any], item: PlanItem, table: sql.Composable, pg_keys: Sequence[Any]
    ) -> dict[bytes, tuple[Any, ...]]:
        """``{key: (key, [members], max expires_at)}``."""
        query = m.aggregate_query(sql.Identifier("set_key"), table, sql.SQL("array_agg(member)"))
        with conn.cursor() as cur:
            cur.execute(query, (list(pg_keys),))
            return {m.key_bytes(row[0]): row for row in cur}

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """The members as a frozenset of bytes."""
        return Canonical("set", frozenset(bytes(x) for x in m.materialize(record.value)), record.expires_at_ms)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Aggregated members back as a frozenset of bytes."""
        return Canonical("set", frozenset(column_bytes(x) for x in row[1]), c.datetime_to_ms(row[2]))


TAG_LIKE_SHARE = 0.8
"""Sets whose sampled members are at least this share short words are tag sets (member index)."""


def plan_options(facts: KeyPattern, usage: Usage, caps: TargetCaps) -> c.PlanChoice:
    """The planner's choice for a set usage: member/key types from the sample, a member index for tags."""
    binary = facts.value_shapes.get("binary", 0)
    tags = usage.hints.get("set") == "tags" or (
        facts.members_sampled > 0 and facts.members_tag_like / facts.members_sampled >= TAG_LIKE_SHARE
    )
    cleanup = c.choose_cleanup(facts.ttl.with_ttl, caps)
    options: dict[str, Any] = {
        "key_type": "bytea" if facts.binary_keys else "text",
        "member_type": "bytea" if binary else "text",
        "member_index": tags,
        "cleanup": cleanup,
    }
    elements = facts.elements
    notes = [
        f"members per set: p50 {elements.p50 or 0:,.0f}, max {elements.max or 0:,}; SISMEMBER becomes a primary-key "
        "probe, SMEMBERS an index range scan, SINTER/SUNION plain SQL INTERSECT/UNION",
    ]
    if tags:
        notes.append("members look like tags: an index on member answers 'which sets contain X' (Redis cannot)")
    if binary:
        notes.append(f"{binary} sampled sets hold binary members: members stored as bytea")
    if facts.binary_keys:
        notes.append(f"{facts.binary_keys} sampled key names are not UTF-8: set_key stored as bytea")
    if cleanup != "none":
        notes.append(f"sets with a TTL expire as a whole: every member row carries expires_at ({cleanup} deletes them)")
    reason = f"set keys (~{facts.estimated_keys:,}) -> (set_key, member) rows with a composite primary key" + (
        " and a member index (tags)" if tags else ""
    )
    return c.PlanChoice("migrate", reason, options, notes)
