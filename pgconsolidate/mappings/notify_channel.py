"""``notify_channel``: a Redis pub/sub channel -> PostgreSQL LISTEN/NOTIFY.

Nothing is copied (``copies_data = False``): pub/sub messages are not stored in Redis either.
Delivery semantics match: fire-and-forget to the sessions listening at that moment, nothing
kept for late subscribers. Differences to review: a NOTIFY is delivered when the publishing
transaction commits (and not at all when it rolls back), identical payloads in one transaction
are folded into one, and the payload must be shorter than 8000 bytes (PostgreSQL's default
limit, ``BLCKSZ - NAMEDATALEN - 128``). There is no pattern subscription (PSUBSCRIBE): each
channel needs its own LISTEN.

The template creates, named after ``target.table`` (the function-name prefix; no table):

* ``<name>_publish(payload text) RETURNS void`` - PUBLISH: refuses a payload of 8000 bytes or
  more with a clear error (instead of PostgreSQL's bare "payload string too long"), then
  ``pg_notify('<channel>', payload)``;
* ``<name>_notify_row() RETURNS trigger`` - an example row trigger publishing
  ``{"op", "schema", "table", "id"}``: the key only, never the row (a row can exceed the limit,
  and listeners fetch what they need). The key column is the trigger's first argument (default
  ``id``). It is created but not attached; see the plan note for the ``CREATE TRIGGER``.

The channel is ``target.options.channel``, the Redis channel name as is: ``pg_notify`` takes it
as text, case and punctuation included, so listeners must quote it: ``LISTEN "Orders:New"``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, field_validator

from pgconsolidate.mappings import _common as c
from pgconsolidate.models import PlanItem, TargetCaps, Usage

NOTIFY_PAYLOAD_LIMIT = 8000
"""PostgreSQL rejects a NOTIFY payload of this many bytes or more (default build, 8 kB pages)."""

REDIS_INTERNAL_PREFIXES = ("__keyspace@", "__keyevent@", "__redis__:")
"""Channels Redis itself publishes on (keyspace notifications, client-side caching invalidation)."""


class NotifyChannelOptions(c.OptionsBase):
    """``target.options`` of a ``notify_channel`` item: the PostgreSQL channel name."""

    channel: str

    @field_validator("channel")
    @classmethod
    def _valid_channel(cls, value: str) -> str:
        # pg_notify raises for an empty name and for one of NAMEDATALEN (64) bytes or more.
        size = len(value.encode("utf-8"))
        if not 0 < size <= c.MAX_IDENT_BYTES:
            raise ValueError(f"a PostgreSQL channel name is 1 to {c.MAX_IDENT_BYTES} bytes, got {size}")
        if "\x00" in value:
            raise ValueError("a PostgreSQL channel name cannot contain a NUL character")
        return value


class NotifyChannel(c.DdlOnlyMapping):
    """A Redis pub/sub channel as a NOTIFY channel with a publish function; nothing is copied."""

    name: ClassVar[str] = "notify_channel"
    redis_types: ClassVar[frozenset[str]] = frozenset({"channel"})
    Options: ClassVar[type[BaseModel]] = NotifyChannelOptions
    copies_data: ClassVar[bool] = False
    no_data_reason: ClassVar[str] = "pub/sub messages are not stored"
    """Pub/sub messages are not stored anywhere: the copy engine and verify skip this mapping."""

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/notify_channel.sql.j2`` (only ``item.target`` is used)."""
        opts = c.parse_options(NotifyChannelOptions, item)
        t = c.target_of(item)
        ctx = {
            **c.common_context(item, caps),
            "channel": c.literal(opts.channel),
            "payload_limit": NOTIFY_PAYLOAD_LIMIT,
            "publish_function": c.ident(t.schema_name, c.derived_name(t.table, "_publish")),
            "notify_row_function": c.ident(t.schema_name, c.derived_name(t.table, "_notify_row")),
        }
        ctx["body_tag"] = c.dollar_tag(ctx["channel"], ctx["publish_function"], ctx["notify_row_function"])
        return ctx


def listen_statement(channel: str) -> str:
    """The exact ``LISTEN`` a subscriber runs: the channel as a quoted identifier (case kept)."""
    return f"LISTEN {c.ident(channel)}"


def is_redis_internal(channel: str) -> bool:
    """True for channels Redis publishes on itself (keyspace/keyevent notifications, tracking)."""
    return channel.startswith(REDIS_INTERNAL_PREFIXES)


def plan_options(
    channel: str, subscribers: int, usage: Usage, caps: TargetCaps, max_payload_bytes: int | None
) -> c.PlanChoice:
    """Verdict, reason, options and notes for one pub/sub channel.

    ``max_payload_bytes`` is the largest message observed on the channel (None when not measured).
    Redis-internal channels stay (``keep``); a message at or over the 8000-byte limit keeps the
    channel on Redis; unmeasured sizes are ``review``. ``caps`` is unused: LISTEN/NOTIFY and
    ``pg_notify`` exist on every supported PostgreSQL.
    """
    subs = f"{subscribers} subscriber{'s' if subscribers != 1 else ''}"
    if is_redis_internal(channel):
        return c.PlanChoice(
            "keep",
            f"'{channel}' is a Redis-internal channel (keyspace/keyevent notifications or client tracking, {subs}): "
            "Redis publishes on it about its own keys; it goes away with the keys it reports on, there is "
            "nothing to move to PostgreSQL",
            {},
            [],
        )
    pg_channel = channel
    notes: list[str] = []
    if len(channel.encode("utf-8")) > c.MAX_IDENT_BYTES or "\x00" in channel:
        pg_channel = c.derived_name(channel.replace("\x00", ""), "")
        notes.append(
            f"the Redis channel name is {len(channel.encode('utf-8'))} bytes; PostgreSQL channel names are at most "
            f"{c.MAX_IDENT_BYTES}: the channel is renamed to '{pg_channel}' - publishers and listeners must use it"
        )
    options: dict[str, Any] = {"channel": pg_channel}
    notes += [
        f"subscribers run `{listen_statement(pg_channel)}` (quoted: channel names are case-sensitive when "
        "passed to pg_notify as text; an unquoted LISTEN would fold to lower case)",
        "publish with SELECT <name>_publish(payload); notifications are delivered at COMMIT (never on "
        "ROLLBACK), only to sessions listening at that moment, like Redis pub/sub; identical payloads in one "
        "transaction are delivered once",
        "to publish table changes, attach the example trigger: CREATE TRIGGER <t>_notify AFTER INSERT OR UPDATE "
        "OR DELETE ON <t> FOR EACH ROW EXECUTE FUNCTION <name>_notify_row('id') - it sends op/schema/table and "
        "the key column named by its argument, never the whole row",
        "LISTEN needs a session connection: not through a transaction-mode pooler (PgBouncer pool_mode=transaction)",
    ]
    if subscribers == 0:
        notes.append("no subscriber was connected at analyze time")
    if max_payload_bytes is not None and max_payload_bytes >= NOTIFY_PAYLOAD_LIMIT:
        return c.PlanChoice(
            "keep",
            f"the largest message observed on '{channel}' is {max_payload_bytes:,} bytes; NOTIFY payloads must be "
            f"under {NOTIFY_PAYLOAD_LIMIT:,} bytes: keep it on Redis, or publish ids and let listeners fetch rows",
            options,
            notes,
        )
    if max_payload_bytes is None:
        return c.PlanChoice(
            "review",
            f"'{channel}' ({subs}) maps to LISTEN/NOTIFY, but message sizes were not measured: are all payloads "
            f"under {NOTIFY_PAYLOAD_LIMIT:,} bytes? <name>_publish refuses larger ones",
            options,
            ["payload sizes not measured", *notes],
        )
    return c.PlanChoice(
        "migrate",
        f"'{channel}' ({subs}) -> LISTEN/NOTIFY: largest observed message {max_payload_bytes:,} bytes, under the "
        f"{NOTIFY_PAYLOAD_LIMIT:,}-byte NOTIFY limit",
        options,
        notes,
    )
