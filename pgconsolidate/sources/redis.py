"""Redis source: connect with clear errors, and scan the keys of one pattern in resumable batches.

The copy engine and the verifier both walk a pattern's keys through :func:`iter_key_batches`, so
its contract is the one thing here that must never drift:

* keys come from ``SCAN cursor MATCH <glob> COUNT <n> TYPE <type>`` and are kept only when their
  name (decoded UTF-8 with ``surrogateescape``) *fullmatches* the pattern's regex; the glob is a
  cheap server-side superset, the regex is the truth;
* a batch is only ever cut at a SCAN page boundary, so ``batch.cursor`` is a cursor SCAN can be
  resumed from and resuming never skips the tail of a half-consumed page;
* the last batch always carries ``cursor == 0`` (it may be empty), so a consumer that checkpoints
  after every batch always records "finished".

SCAN guarantees every key present for the whole scan is returned at least once; it may return a
key twice (rehashing). De-duplication belongs to consumers (the copy engine upserts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis

from pgconsolidate.config import redact_text, redact_url, url_password
from pgconsolidate.errors import ConnectionFailed, SourceError, UsageError
from pgconsolidate.models import RedisSource

_SCHEMES = ("redis", "rediss", "unix")


def db_from_url(url: str) -> int:
    """The database index in the URL path (``/3``) or ``?db=3``; 0 when absent; UsageError when bad."""
    parts = urlsplit(url)
    raw = parts.path.lstrip("/") if parts.scheme != "unix" else ""
    if not raw:
        for pair in parts.query.split("&"):
            key, _, value = pair.partition("=")
            if key == "db":
                raw = value
    if not raw:
        return 0
    if not raw.isdigit():
        raise UsageError(f"invalid Redis URL {redact_url(url)}: database must be a number, got {raw!r}")
    return int(raw)


def connect_redis(url: str, *, timeout: float = 10.0) -> redis.Redis:
    """Open a client for ``url`` (bytes responses, hiredis parser) and PING once.

    Raises :class:`UsageError` for a malformed URL and :class:`ConnectionFailed` (one line, URL
    redacted) when the server cannot be reached, is not Redis, or refuses the credentials.
    """
    shown = redact_url(url)
    try:
        scheme = urlsplit(url).scheme
    except ValueError as exc:
        raise UsageError(f"invalid Redis URL {shown}: {exc}") from None
    if scheme not in _SCHEMES:
        raise UsageError(f"invalid Redis URL {shown}: scheme must be redis://, rediss:// or unix://")
    db = db_from_url(url)
    try:
        client = redis.Redis.from_url(
            url,
            db=db,
            decode_responses=False,
            # RESP2: every Redis version speaks it, and sources/resp.py's fast reply path (hiredis,
            # no push frames to interleave) applies only to it. redis-py 8 defaults to RESP3.
            protocol=2,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    except ValueError as exc:
        raise UsageError(f"invalid Redis URL {shown}: {redact_text(str(exc), url_password(url))}") from None
    try:
        client.ping()
    except redis.AuthenticationError:
        raise ConnectionFailed(f"Redis at {shown}: authentication failed") from None
    except redis.TimeoutError:
        raise ConnectionFailed(f"cannot reach Redis at {shown}: timed out after {timeout:g}s") from None
    except redis.ConnectionError as exc:
        raise ConnectionFailed(f"cannot reach Redis at {shown}: {_reason(exc)}") from None
    except redis.exceptions.InvalidResponse:
        raise ConnectionFailed(f"cannot reach Redis at {shown}: the server did not answer like Redis") from None
    except redis.ResponseError as exc:
        message = redact_text(str(exc), url_password(url))
        if "DB index is out of range" in message:
            raise UsageError(f"invalid Redis URL {shown}: database {db} does not exist on this server") from None
        raise ConnectionFailed(f"Redis at {shown} refused the connection: {message}") from None
    return client


def _reason(exc: BaseException) -> str:
    """A short, lower-case reason for a connection failure (the driver's text repeats host/port)."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError):
        return "timed out"
    text = str(cause) if cause is not None else str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "host name not found"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return redact_text(text).rstrip(".").lower() or "connection failed"


def key_to_text(key: bytes) -> str:
    """Display form of a key: UTF-8, with bytes that are not valid UTF-8 shown as ``\\xNN``."""
    return key.decode("utf-8", "backslashreplace")


def key_text_for_regex(key: bytes) -> str:
    """The form pattern regexes are matched against: UTF-8 with ``surrogateescape`` (lossless)."""
    return key.decode("utf-8", "surrogateescape")


@dataclass
class KeyBatch:
    """Keys of one pattern from one or more whole SCAN pages.

    ``cursor`` is where SCAN resumes after this batch (0: the scan is finished); ``unmatched``
    counts keys the glob returned that the regex rejected (they belong to another pattern).
    """

    cursor: int
    keys: list[bytes] = field(default_factory=list)
    unmatched: int = 0


def iter_key_batches(
    client: redis.Redis,
    source: RedisSource,
    *,
    batch_size: int = 5000,
    count: int = 1000,
    cursor: int = 0,
) -> Iterator[KeyBatch]:
    """Scan ``source``'s keys from ``cursor`` in batches of at least ``batch_size`` keys.

    Batches are cut only at SCAN page boundaries, so every ``batch.cursor`` is a valid resume
    point; the final batch has ``cursor == 0`` and may be empty.
    """
    if batch_size < 1 or count < 1:
        raise UsageError("batch_size and count must be positive")
    regex = _compile(source.regex)
    match = source.match_glob.encode("utf-8", "surrogateescape")
    type_filter: str | None = source.redis_type or None
    client_side_type = False
    keys: list[bytes] = []
    unmatched = 0
    while True:
        try:
            next_cursor, page = _scan_page(client, cursor, match, count, type_filter)
        except _TypeFilterUnsupported:
            # Redis < 6 has no SCAN ... TYPE: filter by TYPE client-side from here on.
            type_filter, client_side_type = None, True
            next_cursor, page = _scan_page(client, cursor, match, count, None)
        if client_side_type and page:
            page = _keep_type(client, page, source.redis_type)
        cursor = next_cursor
        for key in page:
            if regex.fullmatch(key_text_for_regex(key)):
                keys.append(key)
            else:
                unmatched += 1
        if cursor == 0:
            yield KeyBatch(cursor=0, keys=keys, unmatched=unmatched)
            return
        if len(keys) >= batch_size:
            yield KeyBatch(cursor=cursor, keys=keys, unmatched=unmatched)
            keys, unmatched = [], 0


class _TypeFilterUnsupported(Exception):
    """The server rejected ``SCAN ... TYPE`` (Redis < 6)."""


def _scan_page(
    client: redis.Redis, cursor: int, match: bytes, count: int, type_filter: str | None
) -> tuple[int, list[bytes]]:
    """One SCAN round trip."""
    try:
        next_cursor, page = client.scan(cursor=cursor, match=match, count=count, _type=type_filter)
    except redis.ResponseError as exc:
        if type_filter is not None and "syntax" in str(exc).lower():
            raise _TypeFilterUnsupported from None
        raise SourceError(f"SCAN failed: {redact_text(str(exc))}") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise ConnectionFailed(f"lost the Redis connection during SCAN: {_reason(exc)}") from None
    return int(next_cursor), [k if isinstance(k, bytes) else k.encode("utf-8", "surrogateescape") for k in page]


def _keep_type(client: redis.Redis, keys: list[bytes], redis_type: str) -> list[bytes]:
    """Keep the keys whose TYPE is ``redis_type`` (one pipelined round trip)."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    kinds = pipe.execute()
    wanted = redis_type.encode()
    return [k for k, t in zip(keys, kinds, strict=True) if t == wanted]


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(regex: str) -> re.Pattern[str]:
    """Compile (and cache) a pattern regex; a bad regex in a plan is a usage error."""
    compiled = _REGEX_CACHE.get(regex)
    if compiled is None:
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            raise UsageError(f"invalid key regex {regex!r}: {exc}") from None
        if len(_REGEX_CACHE) < 1024:
            _REGEX_CACHE[regex] = compiled
    return compiled
