"""``queue_pgmq``: a Redis LIST used as a work queue -> one pgmq queue (``pgmq.q_<queue_name>``).

One plan item is one Redis key and one pgmq queue (pgmq queues are named, so a glob of many
lists cannot share one). The messages are written with COPY straight into pgmq's queue table, in
**pop order**: the message a Redis consumer would pop first gets the lowest ``msg_id`` (the
identity column is assigned in COPY order), and ``pgmq.read`` / ``pgmq.pop`` return messages by
ascending ``msg_id`` - so consumers see exactly the order Redis would have given them.

* ``pop_end`` says which end consumers pop from. RQ RPUSHes and pops the left end: pop order is
  ``LRANGE 0 -1``. Celery (kombu), Sidekiq and BullMQ LPUSH and pop the right end: pop order is
  ``LRANGE 0 -1`` reversed. A big list (more than ``CHUNK_ELEMENTS``) is read in windows from
  its popping end (:class:`PopOrderChunks`), so the order holds without reading it whole.
* ``payload`` says how a Redis value becomes pgmq's ``message jsonb``: ``json`` stores the
  document itself (Celery messages), ``text`` a JSON string of the UTF-8 value (RQ job ids),
  ``base64`` a JSON string of the base64 of the bytes (binary values).
* ``headers`` records where each message came from: ``{"redis_key": <key>, "redis_index": <0-based
  pop position>}``. The Redis key is what the copy engine deletes by (every batch replaces its
  key's messages: the queue table has no key-based unique constraint), what verify aggregates by,
  and pgmq's own ``headers`` column is where metadata belongs (``pgmq.send`` leaves it NULL).
* ``vt`` (visibility time) is the time of the copy: every message is visible at once.
* ``install`` says how pgmq gets there: ``extension`` runs ``CREATE EXTENSION IF NOT EXISTS
  pgmq``; ``sql`` runs the SQL-only install script that the ``pgmq`` PyPI package ships, guarded
  (skipped when pgmq is already there) through the DDL installer step of
  :mod:`pgconsolidate.execute.ddl` (see :func:`install_pgmq_sql`).

Redis expiries are not carried over: a pgmq message has no expiry of its own (the planner notes it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel, Field

from pgconsolidate.errors import PlanError, TargetError
from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings import _members as m
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import KeyPattern, PlanItem, TargetCaps, Usage, UsageKind

PGMQ_SCHEMA = "pgmq"
"""pgmq's schema: every queue table lives there (fixed by the extension's control file)."""

QUEUE_NAME_MAX = 47
"""pgmq's limit (``pgmq.validate_queue_name``): ``template_pgmq_q_`` + name must fit in 63 bytes."""

QUEUE_NAME_RE = re.compile(r"[a-z0-9_]{1,47}")
"""Names we accept: pgmq lowercases names into table names, so only lowercase ones map 1:1."""

INSTALL_SENTINEL = (
    "-- pgconsolidate:install pgmq (runs the SQL-only install script of the pgmq PyPI package, "
    "~2,200 lines; skipped when pgmq is already installed)"
)
"""The DDL statement that stands for the pgmq install script (``execute.ddl`` runs the script)."""

PopEnd = Literal["left", "right"]
Payload = Literal["json", "text", "base64"]
Install = Literal["extension", "sql"]

JSONB = "jsonb"

_NEEDS_JSON_ESCAPE = re.compile(rb'["\\\x00-\x1f]')
"""Bytes that cannot appear verbatim inside a JSON string (quote, backslash, control characters)."""


class QueuePgmqOptions(c.OptionsBase):
    """``target.options`` of a ``queue_pgmq`` item."""

    queue_name: str = Field(pattern=r"^[a-z0-9_]{1,47}$", description="pgmq queue name: [a-z0-9_], 1-47 chars")
    pop_end: PopEnd = "right"
    payload: Payload = "text"
    install: Install = "sql"


# --------------------------------------------------------------------------- names


def queue_name_for(key: str) -> str:
    """A pgmq queue name for a Redis key: deterministic, ``[a-z0-9_]``, at most 47 characters.

    A key that already is a valid name is used as is (``celery``). Any other key is slugged
    (lowercase, runs of other characters -> ``_``) and gets ``_`` + 6 hex digits of the key's
    SHA-256: the slug alone is lossy (``rq:queue:a`` and ``rq_queue_a`` slug alike), the hash
    keeps names of distinct keys distinct, and a long slug is cut to make room for it.
    """
    if QUEUE_NAME_RE.fullmatch(key):
        return key
    slug = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_") or "queue"
    tag = "_" + c.short_hash(key)
    return slug[: QUEUE_NAME_MAX - len(tag)].rstrip("_") + tag


def queue_table(queue_name: str) -> str:
    """pgmq's table for a queue (``pgmq.format_table_name``: ``q_`` + name, lowercased)."""
    return f"q_{queue_name}".lower()


# --------------------------------------------------------------------------- pgmq installation


def pgmq_sql_script() -> tuple[str, str]:
    """``(pgmq version, install script)`` shipped with the ``pgmq`` PyPI package.

    TargetError when the package is missing: it is a runtime dependency of ``install: sql``.
    """
    from importlib.resources import files

    try:
        package = files("pgmq")
        script = package.joinpath("sql", "pgmq.sql").read_text(encoding="utf-8")
        version_text = package.joinpath("sql", "VERSION").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise TargetError(
            f"cannot read the pgmq install script from the pgmq Python package: {exc}",
            hint="pip install pgmq (or plan install: extension on a server that has the pgmq extension)",
        ) from None
    version = next((v.strip() for v in version_text.splitlines() if v.strip() and not v.startswith("#")), "unknown")
    if not script.strip():
        raise TargetError("the pgmq Python package ships an empty pgmq.sql", hint="reinstall the pgmq package")
    return version, script


def install_pgmq_sql(conn: psycopg.Connection[Any]) -> bool:
    """Install pgmq from the packaged SQL script unless it is already there; True when installed.

    Runs in the caller's transaction (the DDL transaction). The script is not idempotent (plain
    ``CREATE FUNCTION`` / ``CREATE TYPE``), so it is skipped when ``pgmq.meta`` exists (from this
    script or the extension); a transaction-level advisory lock keeps two concurrent migrations
    from both running it. The version installed is recorded as the comment of schema ``pgmq``.
    """
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('pgconsolidate.install'), hashtext('pgmq'))")
        cur.execute("SELECT to_regclass('pgmq.meta') IS NOT NULL, to_regprocedure('pgmq.create(text)') IS NOT NULL")
        row = cur.fetchone()
        has_meta, has_create = (bool(row[0]), bool(row[1])) if row else (False, False)
        if has_meta and has_create:
            return False
        if has_meta or has_create:
            raise TargetError(
                "schema pgmq holds a partial pgmq installation (pgmq.meta or pgmq.create(text) is missing)",
                hint="drop schema pgmq (if it holds nothing you need) or install the pgmq extension, then re-run",
            )
        version, script = pgmq_sql_script()
        # The script is trusted package data, several statements: run as one simple-protocol query.
        cur.execute(script.encode("utf-8"))
        note = (
            f"pgmq {version}, installed by pgconsolidate from the SQL-only script of the pgmq Python package "
            "(not an extension: upgrades are manual)"
        )
        cur.execute(sql.SQL("COMMENT ON SCHEMA pgmq IS {}").format(sql.Literal(note)))
    return True


# --------------------------------------------------------------------------- reading in pop order


class PopOrderChunks(m.ChunkedValue):
    """A big list read in windows from its **right** end, each window reversed (RPOP order).

    Windows are ``LRANGE -n -1``, ``LRANGE -2n -(n+1)``, ...: consumers that pop the right end
    take the last element first, so its window comes first. Memory stays one window.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<list of {self.size:,} elements, read from the right in windows of {self.chunk:,}>"

    def __iter__(self) -> Iterator[m.Elements]:
        key, n = self.key, self.chunk
        last = -1  # the index (from the right) of the next window's last element
        while True:
            window = list(self._call([b"LRANGE", key, b"%d" % (last - n + 1), b"%d" % last]))
            if window:
                window.reverse()
                yield window
            if len(window) < n:
                return
            last -= n


def in_pop_order(record: SourceRecord | None, pop_end: str) -> SourceRecord | None:
    """``record`` with its elements in the order consumers pop them (the ``LRANGE`` order is left first)."""
    if record is None or pop_end == "left":
        return record
    value = record.value
    if isinstance(value, m.ChunkedValue):
        return record._replace(value=PopOrderChunks(value.client, value.key, value.kind, value.size, value.chunk))
    return record._replace(value=value[::-1])


# --------------------------------------------------------------------------- the mapping


class QueuePgmq(m.MembersMapping[QueuePgmqOptions]):
    """A Redis list as the messages of one pgmq queue, in pop order."""

    name: ClassVar[str] = "queue_pgmq"
    redis_types: ClassVar[frozenset[str]] = frozenset({"list"})
    Options: ClassVar[type[BaseModel]] = QueuePgmqOptions
    collection: ClassVar[m.CollectionType] = m.LIST
    replace_always: ClassVar[bool] = True

    # ----------------------------------------------------------------- plan / DDL side

    def check_target(self, item: PlanItem) -> QueuePgmqOptions:
        """The options, after checking the target is pgmq's table of the queue (PlanError otherwise)."""
        opts = self.options(item)
        t = c.target_of(item)
        expected = queue_table(opts.queue_name)
        if t.schema_name != PGMQ_SCHEMA or t.table != expected:
            raise PlanError(
                f"{c.item_path(item, 'target')}: queue {opts.queue_name!r} lives in pgmq's table "
                f"{PGMQ_SCHEMA}.{expected}, not {t.schema_name}.{t.table}; set schema: {PGMQ_SCHEMA} and "
                f"table: {expected} (or change options.queue_name)"
            )
        return opts

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/queue_pgmq.sql.j2``."""
        opts = self.check_target(item)
        return {
            "item_id": item.id,
            "install": opts.install,
            "install_sentinel": INSTALL_SENTINEL,
            "queue_literal": c.literal(opts.queue_name),
        }

    def columns(self, item: PlanItem) -> Sequence[str]:
        """``vt, message, headers`` (``msg_id``, ``read_ct`` and ``enqueued_at`` take pgmq's defaults)."""
        return ("vt", "message", "headers")

    def key_sql(self, item: PlanItem) -> sql.Composable:
        """A message's Redis key, from its headers."""
        return sql.SQL("(headers->>'redis_key')")

    def conflict_columns(self, item: PlanItem) -> Sequence[str]:
        """``msg_id`` (never used: ``replace_always`` skips the de-duplicating staging table)."""
        return ("msg_id",)

    # ----------------------------------------------------------------- source side

    def read(self, client: Any, keys: Sequence[bytes], item: PlanItem, now_ms: int) -> list[SourceRecord | None]:
        """Sizes + expiries, then the small lists, in two round trips; every value in pop order."""
        pop_end = self.options(item).pop_end
        # Looked up on the module at call time, so a patched chunk size (tests) applies here too.
        records = m.read_collections(client, keys, self.collection, now_ms)
        return [in_pop_order(r, pop_end) for r in records]

    def _key_json(self, item: PlanItem, key: bytes) -> str:
        """The key as a JSON string for ``headers`` (DataError when JSON/jsonb cannot hold it)."""
        try:
            text = key.decode("utf-8")
        except UnicodeDecodeError:
            raise c.data_error(
                item,
                "source",
                key,
                "is not valid UTF-8, and pgmq headers (jsonb) record the key as text",
                "RENAME the list in Redis to a UTF-8 name (and point its producers/consumers at it) or exclude it",
            ) from None
        if "\x00" in text:
            raise c.data_error(
                item,
                "source",
                key,
                "contains a NUL byte, which jsonb headers cannot hold",
                "RENAME the list in Redis or exclude it",
            )
        return json.dumps(text, ensure_ascii=False)

    def _message_text(self, item: PlanItem, payload: str) -> Callable[[bytes, bytes], str]:
        """``(key, value) -> message JSON text``, validating like jsonb does (DataError naming the fix)."""
        field = "target.options.payload"
        if payload == "base64":
            return lambda key, value: '"' + base64.b64encode(value).decode("ascii") + '"'

        def utf8(key: bytes, value: bytes, wanted: str) -> str:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise c.data_error(
                    item, field, key, f"has a message that is not valid UTF-8 (payload {wanted})", "set it to base64"
                ) from None

        if payload == "json":

            def as_json(key: bytes, value: bytes) -> str:
                text = utf8(key, value, "json")
                problem = c.json_problem(text)
                if problem is not None:
                    raise c.data_error(item, field, key, f"has a message that {problem}", "set it to text or base64")
                return text

            return as_json

        def as_text(key: bytes, value: bytes) -> str:
            text = utf8(key, value, "text")
            if "\x00" in text:
                raise c.data_error(
                    item, field, key, "has a message with a NUL byte (jsonb strings cannot hold it)", "set it to base64"
                )
            return json.dumps(text, ensure_ascii=False)

        return as_text

    def element_rows(self, record: SourceRecord, elements: m.Elements, item: PlanItem) -> list[tuple[Any, ...]]:
        """Rows of one window starting at pop position 0 (see :meth:`window_rows`)."""
        return self.window_rows(record, elements, item, 0)

    def window_rows(
        self, record: SourceRecord, elements: m.Elements, item: PlanItem, start: int
    ) -> list[tuple[Any, ...]]:
        """``(vt, message JSON, headers JSON)`` per element of a window whose first pop position is ``start``."""
        opts = self.options(item)
        key_json = self._key_json(item, record.key)
        message = self._message_text(item, opts.payload)
        vt = c.ms_to_datetime(int(time.time() * 1000))
        return [
            (vt, message(record.key, value), f'{{"redis_key": {key_json}, "redis_index": {start + i}}}')
            for i, value in enumerate(elements)
        ]

    def to_rows(self, record: SourceRecord, item: PlanItem) -> Iterator[tuple[Any, ...]]:
        """Every row of a record with its pop position, validated (the precise DataError of a rejected batch)."""
        start = 0
        for window in m.chunks(record.value):
            yield from self.window_rows(record, window, item, start)
            start += len(window)

    def encode_elements(
        self, item: PlanItem, column_types: Sequence[str]
    ) -> Callable[[SourceRecord, m.Elements], bytes] | None:
        """``(record, window) -> binary rows`` for a window at pop position 0 (see :meth:`copy_chunks`)."""
        encode = self.window_encoder(item, column_types)
        if encode is None:
            return None
        return lambda record, elements: encode(record, elements, 0)

    def window_encoder(
        self, item: PlanItem, column_types: Sequence[str]
    ) -> Callable[[SourceRecord, m.Elements, int], bytes] | None:
        """``(record, window, first pop position) -> binary COPY rows``, or None when the columns differ.

        Messages go out as the raw Redis bytes (json), the bytes between quotes (text without
        characters JSON must escape; others through ``json.dumps``) or base64; the server
        validates UTF-8 and JSON, and a rejected row is re-examined by :meth:`to_rows`.
        """
        if list(column_types) != [c.TIMESTAMPTZ, JSONB, JSONB]:
            return None
        opts = self.options(item)
        payload = opts.payload
        jsonb_len = c.JSONB_LEN
        count = b"\x00\x03"  # int16 field count
        slow_text = self._message_text(item, "text")
        needs_escape = _NEEDS_JSON_ESCAPE.search
        b64 = base64.b64encode

        def encode(record: SourceRecord, elements: m.Elements, start: int) -> bytes:
            key = record.key
            head = count + c.timestamptz_field(int(time.time() * 1000))
            prefix = b'{"redis_key": ' + self._key_json(item, key).encode("utf-8") + b', "redis_index": '
            out: list[bytes] = []
            append = out.append
            for i, value in enumerate(elements, start):
                if payload == "json":
                    msg = value
                elif payload == "base64":
                    msg = b'"' + b64(value) + b'"'
                elif needs_escape(value) is None:
                    msg = b'"' + value + b'"'  # the server checks the UTF-8
                else:
                    msg = slow_text(key, value).encode("utf-8")
                headers = prefix + b"%d}" % i
                append(head + jsonb_len(len(msg) + 1, 1) + msg + jsonb_len(len(headers) + 1, 1) + headers)
            return b"".join(out)

        return encode

    def copy_chunks(self, item: PlanItem, column_types: Sequence[str]) -> m.ChunkEncoder | None:
        """``record -> (rows bytes, row count)`` per window, numbering messages across windows."""
        encode = self.window_encoder(item, column_types)
        if encode is None:
            return None

        def run(record: SourceRecord) -> Iterator[tuple[bytes, int]]:
            start = 0
            for window in m.chunks(record.value):
                if window:
                    yield encode(record, window, start), len(window)
                    start += len(window)

        return run

    # ----------------------------------------------------------------- target side (verify)

    def target_rows(
        self, conn: psycopg.Connection[Any], item: PlanItem, table: sql.Composable, pg_keys: Sequence[Any]
    ) -> dict[bytes, tuple[Any, ...]]:
        """``{key: (key, [messages in msg_id order])}`` - the order pgmq.read/pop return them in."""
        key = self.key_sql(item)
        query = sql.SQL("SELECT {k}, array_agg(message ORDER BY msg_id) FROM {t} WHERE {k} = ANY(%s) GROUP BY {k}")
        with conn.cursor() as cur:
            cur.execute(query.format(k=key, t=table), (list(pg_keys),))
            return {m.key_bytes(row[0]): row for row in cur}

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """The messages in pop order: parsed JSON values (payload json) or the value bytes.

        jsonb normalises documents (whitespace, key order, duplicate keys), so json payloads
        compare as parsed values, not bytes. The key's Redis expiry is not migrated (None).
        """
        values = m.materialize(record.value)
        if self.options(item).payload == "json":
            message = self._message_text(item, "json")
            return Canonical("list", [json.loads(message(record.key, bytes(v))) for v in values], None)
        return Canonical("list", [bytes(v) for v in values], None)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Aggregated messages back in comparable form (a message that does not decode stays as found)."""
        payload = self.options(item).payload
        messages = list(row[1] or [])
        if payload == "json":
            return Canonical("list", messages, None)
        return Canonical("list", [_message_bytes(msg, payload) for msg in messages], None)


def _message_bytes(message: Any, payload: str) -> Any:
    """A ``text``/``base64`` message back as the Redis bytes; anything else is returned unchanged
    (it then differs from every source value, which is what verify should report)."""
    if not isinstance(message, str):
        return message
    if payload == "text":
        return message.encode("utf-8")
    try:
        return base64.b64decode(message, validate=True)
    except (binascii.Error, ValueError):
        return message


# --------------------------------------------------------------------------- planner hand-off

_JSON_SHAPES = frozenset({"json_object", "json_array"})
_LIBRARY_POP_END: tuple[tuple[str, PopEnd], ...] = (
    ("rq", "left"),
    ("celery", "right"),
    ("kombu", "right"),
    ("sidekiq", "right"),
    ("bull", "right"),
)
"""Fallback when the analyzer gave no ``pop_end`` hint: the library's documented convention."""


def _pop_end(usage: Usage) -> tuple[PopEnd, str | None]:
    """``(pop end, note when it is a guess)`` from the usage hints."""
    hinted = usage.hints.get("pop_end")
    basis = usage.hints.get("pop_end_basis")
    if hinted in ("left", "right"):
        end: PopEnd = "left" if hinted == "left" else "right"
        if basis == "default":
            return end, (
                f"pop_end {end} is a guess (no pops, pushes or blocked clients showed which end consumers use): "
                "check the consumer code (LPOP/BLPOP = left, RPOP/BRPOP/BRPOPLPUSH = right) before migrating"
            )
        if basis in ("pops", "blocked", "pushes"):
            return end, f"pop_end {end} inferred from server-wide {basis} counts (not per key): confirm it"
        return end, None
    library = (usage.library or "").lower()
    for name, lib_end in _LIBRARY_POP_END:
        if name in library:
            return lib_end, None
    return "right", (
        "pop_end right is a guess (the convention of Celery, Sidekiq and BullMQ: LPUSH + BRPOP); "
        "if consumers LPOP/BLPOP, set pop_end: left"
    )


def _payload(facts: KeyPattern) -> tuple[Payload, str]:
    """``(payload, why)`` from the sampled value shapes."""
    shapes = {k: v for k, v in facts.value_shapes.items() if v > 0}
    sampled = sum(shapes.values())
    if shapes.get("binary"):
        return "base64", f"{shapes['binary']} of {sampled} sampled messages are binary: stored as base64 JSON strings"
    if shapes and set(shapes) <= _JSON_SHAPES | {"json_scalar"} and set(shapes) & _JSON_SHAPES:
        return "json", f"all {sampled} sampled messages are JSON documents: stored as jsonb (message->>'field' works)"
    return "text", (
        f"sampled messages are text ({', '.join(f'{k} {v}' for k, v in sorted(shapes.items())) or 'none sampled'}): "
        "each stored as a JSON string (message #>> '{}' gives the original text)"
    )


def plan_options(facts: KeyPattern, usage: Usage, caps: TargetCaps) -> c.PlanChoice:
    """The planner's choice for one Redis list key (``facts.pattern`` is the key) used as a queue."""
    key = facts.pattern
    library = f" ({usage.library})" if usage.library else ""
    role = usage.hints.get("role")
    if role == "processing":
        return c.PlanChoice(
            "review",
            f"list '{key}'{library} holds in-flight messages (being worked on by a consumer that popped them from "
            "a queue): it is NOT merged into the queue. Let the workers finish (or move its messages back into "
            "the queue, e.g. LMOVE, if they must be retried), then migrate the queue itself",
            {},
            [
                f"{facts.estimated_keys:,} key(s), up to {facts.elements.max or 0:,} in-flight messages each",
            ],
        )
    if usage.kind is not UsageKind.QUEUE:
        return c.PlanChoice(
            "review",
            f"list '{key}' is classified as {usage.kind.value}, not a work queue: decide whether consumers pop it "
            "(then plan queue_pgmq) or read it by index (then a table keeping list positions fits)",
            {},
            [],
        )
    queue = queue_name_for(key)
    pop_end, pop_note = _pop_end(usage)
    payload, payload_why = _payload(facts)
    install: Install = "extension" if caps.can_use("pgmq") else "sql"
    pops = "RPOP" if pop_end == "right" else "LPOP"
    blocking = "BRPOP" if pop_end == "right" else "BLPOP"
    q = c.literal(queue)
    notes = [
        f"consumers read with pgmq.read({q}, <visibility seconds>, <qty>) and then pgmq.delete/pgmq.archive the "
        f"msg_id (at-least-once), or pgmq.pop({q}) for {pops}'s at-most-once semantics; producers pgmq.send({q}, msg)",
        f"blocking pops ({blocking}) become polling: pgmq.read_with_poll({q}, <vt>, <qty>, max_poll_seconds => 5)",
        f"messages copied in {pops} order (pop_end {pop_end}): the first message {pops} would return gets the lowest "
        "msg_id; headers keep {redis_key, redis_index}",
        payload_why,
    ]
    if pop_note:
        notes.append(pop_note)
    if install == "extension":
        notes.append("pgmq installed with CREATE EXTENSION (available on the target)")
    else:
        notes.append(
            "the target has no pgmq extension: the SQL-only install script of the pgmq Python package is run once "
            "(skipped when pgmq exists; the version is recorded as the comment of schema pgmq)"
        )
    if facts.ttl.with_ttl:
        notes.append(
            f"{facts.ttl.with_ttl} sampled queue key(s) have a TTL: pgmq messages do not expire, it is dropped"
        )
    notes.append(
        "stop producers and consumers (or drain to a known point) while copying: messages popped or pushed during "
        "the copy are not tracked, and verify reports the difference"
    )
    elements = facts.elements
    target = f"pgmq queue {queue!r} ({PGMQ_SCHEMA}.{queue_table(queue)}), {pops} order kept"
    if facts.estimated_keys > 1:
        # The planner splits a pattern into one item per key when the sample named every key;
        # otherwise the keys share one queue (each message keeps its key in headers.redis_key).
        notes.append(
            f"~{facts.estimated_keys:,} lists share this one queue: each list's messages keep their {pops} order, "
            "but the lists follow one another (in SCAN order) instead of interleaving; plan one item per key "
            "(source.pattern = the key) for separate pgmq queues"
        )
        reason = (
            f"work queues '{key}'{library} (~{facts.estimated_keys:,} lists, up to {elements.max or 0:,} messages "
            f"each) -> one {target}"
        )
    else:
        reason = f"work queue '{key}'{library} (~{elements.max or 0:,} messages) -> {target}"
    options: dict[str, Any] = {"queue_name": queue, "pop_end": pop_end, "payload": payload, "install": install}
    return c.PlanChoice("migrate", reason, options, notes)
