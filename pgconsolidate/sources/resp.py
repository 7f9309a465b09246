"""A lean pipelined round trip to Redis for the hot paths (sampling, copy, verify).

redis-py's ``Pipeline`` spends roughly 10 µs of Python per command on packing, bookkeeping and
response callbacks; at a million keys with two commands each that alone caps a copy near 50k
keys/s. Here the whole batch is packed into one buffer, written once, and the replies are read
raw, with no callbacks. Even ``Connection.read_response`` costs ~1.5 µs per reply (health and
push checks, exception translation), so when the connection parses with hiredis the replies are
pulled straight from its hiredis reader (~0.1 µs each), refilled from the socket by the parser's
own ``read_from_socket`` (timeouts and TLS stay redis-py's). Connections still come from
redis-py's pool, so authentication, TLS, db selection and timeouts stay redis-py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

import redis

try:  # redis-py's hiredis parser and its "need more bytes" sentinel (redis-py >= 5)
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
    from redis._parsers.hiredis import _HiredisParser
except ImportError:  # pragma: no cover - old redis-py or no hiredis: the generic path is used
    _HiredisParser = None  # type: ignore[assignment,misc]
    _NOT_ENOUGH_DATA = None

_PEXPIRETIME_SUPPORT: WeakKeyDictionary[redis.Redis, bool] = WeakKeyDictionary()


def pack_command(args: Sequence[bytes]) -> bytes:
    """One command in RESP (the wire format); arguments are already bytes."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def per_key_commands(names: Sequence[bytes], keys: Sequence[bytes]) -> bytes:
    """Pack ``NAME key`` for every name and key (key-major order), fast: the per-key work is one
    %-format, since this runs for every key of a copy."""
    heads = [b"*2\r\n$%d\r\n%s\r\n" % (len(n), n) for n in names]
    parts: list[bytes] = []
    for key in keys:
        arg = b"$%d\r\n%s\r\n" % (len(key), key)
        for head in heads:
            parts.append(head)
            parts.append(arg)
    return b"".join(parts)


def round_trip(client: redis.Redis, commands: Sequence[Sequence[bytes]] | bytes, count: int | None = None) -> list[Any]:
    """Send ``commands`` in one write and read every reply, in order.

    An error reply (e.g. WRONGTYPE) is returned in place as its ``ResponseError`` so the stream
    stays in sync; any other failure disconnects the connection (a half-read reply stream must
    never go back to the pool) and propagates.
    """
    if isinstance(commands, bytes):
        buffer, expected = commands, count or 0
    else:
        buffer, expected = b"".join(pack_command(c) for c in commands), len(commands)
    if not expected:
        return []
    pool = client.connection_pool
    try:
        conn = pool.get_connection()
    except TypeError:  # redis-py < 5.1 wants a command name
        conn = pool.get_connection("PIPELINE")
    try:
        conn.send_packed_command([buffer], check_health=False)  # type: ignore[no-untyped-call]
        replies = _read_hiredis(conn, expected)
        if replies is None:
            replies = _read_generic(conn, expected)
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise
    finally:
        pool.release(conn)
    return replies


def _read_generic(conn: Any, expected: int) -> list[Any]:
    """``expected`` replies through redis-py's ``read_response`` (any parser, any protocol)."""
    replies: list[Any] = []
    read = conn.read_response
    for _ in range(expected):
        try:
            replies.append(read(disable_decoding=True))
        except redis.ResponseError as exc:
            replies.append(exc)
    return replies


def _read_hiredis(conn: Any, expected: int) -> list[Any] | None:
    """``expected`` replies straight from the connection's hiredis reader; None when not applicable.

    Only for RESP2 connections (RESP3 may interleave push frames, which redis-py must handle).
    The parser's reader is used, not a new one, so bytes it already buffered are never lost.
    Error replies come back in place as the parser's exception instances (``replyError``), so
    the stream stays in sync; a connection-level error reply (e.g. LOADING) is raised.
    """
    parser = getattr(conn, "_parser", None)
    if _HiredisParser is None or not isinstance(parser, _HiredisParser) or str(getattr(conn, "protocol", 2)) != "2":
        return None
    reader = parser._reader
    if reader is None:
        return None
    gets, fill, short = reader.gets, parser.read_from_socket, _NOT_ENOUGH_DATA
    replies: list[Any] = []
    append = replies.append
    remaining = expected
    while remaining:
        # Drain everything already buffered, then refill: one recv per 64 KiB, not per reply.
        reply = gets(False)
        while reply is not short:
            append(reply)
            remaining -= 1
            if not remaining:
                break
            reply = gets(False)
        else:
            fill()  # type: ignore[no-untyped-call]
    for reply in replies:
        if isinstance(reply, redis.ConnectionError):
            raise reply
    return replies


def supports_pexpiretime(client: redis.Redis) -> bool:
    """True when the server has PEXPIRETIME (Redis >= 7.0): absolute expiry from Redis's own clock.

    Absolute expiries do not drift with the time a batch spends in flight, so re-runs compare
    equal and TTL checks need no client-clock arithmetic. Cached per client.
    """
    known = _PEXPIRETIME_SUPPORT.get(client)
    if known is None:
        version = str(client.info("server").get("redis_version", "0"))
        try:
            major = int(version.split(".", 1)[0])
        except ValueError:
            major = 0
        known = major >= 7
        _PEXPIRETIME_SUPPORT[client] = known
    return known
