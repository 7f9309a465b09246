"""Round trip for ``leaderboard``: sorted sets -> rows, verify, drift, and the rank SQL against Redis.

The ranking objects the template creates (``<table>_ranked``, ``<table>_rank``, ``<table>_top``,
``<table>_incr``) are run on the copied data and must answer exactly what Redis answers
(ZREVRANK, ZREVRANGE .. WITHSCORES, ZINCRBY), ties and bytewise member order included.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
import pytest
import redis
from psycopg import sql

from pgconsolidate.errors import DataError
from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item

# Mixed case, non-ASCII, prefixes and punctuation: a linguistic collation orders these differently
# from Redis' memcmp (e.g. 'a' < 'B', 'ab' vs 'a-c', 'é' vs 'f').
MEMBERS = ["alice", "Bob", "bob", "Zed", "zoë", "Émile", "émile", "a", "ab", "a-c", "☃", "B2", "f"]
TIED_SCORES = [1.0, 2.0, 2.0, 3.5, -1.0, 0.1]
EDGE_SCORES = {
    b"pos-inf": math.inf,
    b"neg-inf": -math.inf,
    b"tenth": 0.1,
    b"denormal": 5e-324,
    b"max": 1.7976931348623157e308,
    b"neg-zero": -0.0,
    b"third": 1 / 3,
}


def make_item(
    glob: str = "lb:*", table: str = "lb_text", member_type: str = "text", score_time: str = "none"
) -> PlanItem:
    """A leaderboard item over the sorted sets matching ``glob``."""
    prefix = glob.rstrip("*")
    return PlanItem(
        id=f"redis.db.{table}",
        source=RedisSource(pattern=prefix + "{id}", regex=prefix + ".+", match_glob=glob, redis_type="zset"),
        usage=Usage(kind=UsageKind.LEADERBOARD, confidence=0.9),
        verdict="migrate",
        reason="test",
        target=TargetSpec(
            mapping="leaderboard", table=table, options={"member_type": member_type, "score_time": score_time}
        ),
        copy_options=CopyOptions(batch_size=20, scan_count=25),
    )


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the test's fresh database."""
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


def seed(client: redis.Redis) -> int:
    """40 small boards full of ties (some with TTL), edge scores, a big board of 1,234; returns the rows."""
    rows = 0
    pipe = client.pipeline(transaction=False)
    for i in range(40):
        scores = {MEMBERS[j]: TIED_SCORES[(i + j) % len(TIED_SCORES)] for j in range(i % len(MEMBERS) + 1)}
        pipe.zadd(f"lb:{i}", scores)
        if i % 4 == 0:
            pipe.expire(f"lb:{i}", 900)
        rows += len(scores)
    pipe.zadd("lb:edge", EDGE_SCORES)
    pipe.zadd("lb:big", {f"m-{j:05d}": j % 97 for j in range(1234)})
    pipe.set("lb:not-a-zset", "x")
    pipe.execute()
    return rows + len(EDGE_SCORES) + 1234


def as_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def pg_ranks(conn: psycopg.Connection[Any], table: str) -> dict[tuple[bytes, bytes], tuple[int, int]]:
    """``{(board, member): (rank from <table>_ranked, rank from <table>_rank())}``."""
    query = sql.SQL("SELECT board, member, rank, {}(board, member) FROM {}").format(
        sql.Identifier(table + "_rank"), sql.Identifier(table + "_ranked")
    )
    return {(as_bytes(b), as_bytes(m)): (r, f) for b, m, r, f in conn.execute(query)}


def redis_ranks(client: redis.Redis, keys: list[bytes]) -> dict[tuple[bytes, bytes], tuple[int, int]]:
    """``{(board, member): (ZREVRANK, ZREVRANK)}`` for every member of ``keys``, in the shape of pg_ranks."""
    pairs = [(k, mb) for k in keys for mb in cast(list[bytes], client.zrange(k, 0, -1))]
    pipe = client.pipeline(transaction=False)
    for k, mb in pairs:
        pipe.zrevrank(k, mb)
    return {pair: (rank, rank) for pair, rank in zip(pairs, pipe.execute(), strict=True)}


def assert_top_matches(conn: psycopg.Connection[Any], client: redis.Redis, table: str, board: Any, n: int) -> None:
    top = conn.execute(sql.SQL("SELECT * FROM {}(%s, %s)").format(sql.Identifier(table + "_top")), (board, n))
    ours = [(as_bytes(mb), score) for mb, score in top]
    theirs = client.zrevrange(as_bytes(board), 0, n - 1, withscores=True)
    assert ours == theirs, (board, n)


def zset_keys(client: redis.Redis, glob: str) -> list[bytes]:
    return sorted(client.scan_iter(match=glob, _type="zset"))


def test_roundtrip(redis_client: redis.Redis, conn: psycopg.Connection[Any], small_chunks: None) -> None:
    item = make_item()
    apply_ddl(conn, render_item_ddl(item, None))
    rows = seed(redis_client)

    first = copy_item(redis_client, conn, item)
    parity = verify_item(redis_client, conn, item, full=True)

    assert (first.mode, first.rows) == ("copy", rows)
    assert parity.ok, parity.mismatches
    assert parity.source_count == parity.target_count == parity.checked == 42  # SCAN TYPE skips the string
    # Text members order bytewise whatever the database's default collation.
    collation = conn.execute(
        "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
        "WHERE a.attrelid = 'lb_text'::regclass AND a.attname = 'member'"
    ).fetchone()
    assert collation == ("C",)
    # Every score is the same double as in Redis, bit for bit (inf, -inf, -0, a denormal, the max).
    stored = dict(conn.execute("SELECT member, score FROM lb_text WHERE board = 'lb:edge'").fetchall())
    for member, score in cast(list[tuple[bytes, float]], redis_client.zrange("lb:edge", 0, -1, withscores=True)):
        assert struct.pack("!d", stored[member.decode()]) == struct.pack("!d", score), member
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM lb_text WHERE board = 'lb:0' AND expires_at IS NOT NULL")
        assert cur.fetchone() == (1,)

    # The rank SQL answers what Redis answers: every member of every board, ties included.
    keys = zset_keys(redis_client, "lb:*")
    assert pg_ranks(conn, "lb_text") == redis_ranks(redis_client, keys)
    for board in ("lb:11", "lb:edge", "lb:big"):
        for n in (1, 3, 5_000):
            assert_top_matches(conn, redis_client, "lb_text", board, n)
    assert conn.execute("SELECT lb_text_rank('lb:11', 'nobody'), lb_text_rank('lb:nope', 'a')").fetchone() == (
        None,
        None,
    )

    # ZINCRBY vs <table>_incr: an existing member, a new member of a board with a TTL (it takes the
    # board's TTL), and a board that expired (it restarts with just that member and no TTL).
    conn.execute("UPDATE lb_text SET expires_at = now() - interval '1 second' WHERE board = 'lb:4'")
    redis_client.delete("lb:4")
    for name, who, by in (("lb:11", "Bob", 2.5), ("lb:8", "newbie", 7.0), ("lb:4", "again", 1.0)):
        theirs = redis_client.zincrby(name, by, who)
        ours = conn.execute("SELECT lb_text_incr(%s, %s, %s)", (name, who, by)).fetchone()
        assert ours == (theirs,), name
    assert verify_item(redis_client, conn, item, full=True).ok
    assert conn.execute("SELECT count(*) FROM lb_text WHERE board = 'lb:4'").fetchone() == (1,)
    # inf + -inf is NaN: Redis refuses it, and so does the table.
    with pytest.raises(redis.ResponseError, match="NaN"):
        redis_client.zincrby("lb:edge", -math.inf, "pos-inf")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("SELECT lb_text_incr('lb:edge', 'pos-inf', '-Infinity')")

    # Drift on both sides: a score changed and a member removed in Redis, a key deleted, a member
    # added to the big key; a score changed in PostgreSQL.
    redis_client.zadd("lb:3", {"alice": 99})
    redis_client.zrem("lb:5", "Bob")
    redis_client.delete("lb:6")
    redis_client.zadd("lb:big", {"m-new": 12.5})
    conn.execute("UPDATE lb_text SET score = score + 1 WHERE board = 'lb:7' AND member = 'alice'")
    drift = verify_item(redis_client, conn, item, full=True)
    assert {(m.key, m.kind) for m in drift.mismatches} == {
        ("lb:3", "value"),
        ("lb:5", "value"),
        ("lb:6", "extra"),
        ("lb:big", "value"),
        ("lb:7", "value"),
    }

    again = copy_item(redis_client, conn, item)
    assert again.mode == "upsert"
    after = verify_item(redis_client, conn, item, full=True)
    assert {(m.key, m.kind) for m in after.mismatches} == {("lb:6", "extra")}  # deletions need a fresh load
    assert conn.execute("SELECT count(*) FROM lb_text WHERE board = 'lb:5' AND member = 'Bob'").fetchone() == (0,)
    live = [k for k in keys if k != b"lb:6"]
    expected = redis_ranks(redis_client, live)
    assert {k: v for k, v in pg_ranks(conn, "lb_text").items() if k[0] != b"lb:6"} == expected


def test_binary_members_need_bytea_and_rank_bytewise(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    text_item, bytea_item = make_item(table="lb_t"), make_item(table="lb_b", member_type="bytea")
    for it in (text_item, bytea_item):
        apply_ddl(conn, render_item_ddl(it, None))
    # All tied: the order is the members' bytes, reversed (\xff first, \x00 last).
    redis_client.zadd("lb:1", {b"ok": 1, b"\xff\xfe": 1, b"\x00": 1, b"a\x00b": 1, b"\x7f": 1, b"": 1})

    # In Redis' order b"\x00" is the first member a text column refuses.
    with pytest.raises(DataError, match=r"member_type: key 'lb:1' has a member with a NUL byte; set it to bytea"):
        copy_item(redis_client, conn, text_item)
    result = copy_item(redis_client, conn, bytea_item)

    assert result.rows == 6
    assert verify_item(redis_client, conn, bytea_item, full=True).ok
    assert pg_ranks(conn, "lb_b") == redis_ranks(redis_client, [b"lb:1"])
    assert_top_matches(conn, redis_client, "lb_b", "lb:1", 4)


def expected_scored_at(score: float, unit: str) -> datetime:
    """What to_timestamp() computes: seconds as float8, rounded (rint) to microseconds."""
    seconds = score / 1000.0 if unit == "milliseconds" else score
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=round(seconds * 1_000_000.0))


@pytest.mark.parametrize(
    ("unit", "scores"),
    [
        ("seconds", [1_700_000_000.5, 1_700_000_100.0, 1_700_003_600.25, 946_684_800.0]),
        ("milliseconds", [1_700_000_000_123.0, 1_700_000_100_000.0, 1_700_003_600_999.0, 4_102_444_799_999.0]),
    ],
)
def test_time_indexed_zset(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], unit: str, scores: list[float]
) -> None:
    item = make_item("sched:*", table=f"sched_{unit}", score_time=unit)
    apply_ddl(conn, render_item_ddl(item, None))
    jobs = {f"job-{i}".encode(): s for i, s in enumerate(scores)}
    redis_client.zadd("sched:default", {**jobs, b"never": math.inf})

    copy_item(redis_client, conn, item)

    assert verify_item(redis_client, conn, item, full=True).ok
    table = sql.Identifier(f"sched_{unit}")
    got = dict(
        conn.execute(sql.SQL("SELECT member, scored_at FROM {} WHERE member <> 'never'").format(table)).fetchall()
    )
    never = sql.SQL("SELECT scored_at = 'infinity' FROM {} WHERE member = 'never'").format(table)
    assert conn.execute(never).fetchone() == (True,)
    assert got == {m.decode(): expected_scored_at(s, unit) for m, s in jobs.items()}
    # "Which jobs are due at T" through the (board, scored_at) index = ZRANGEBYSCORE -inf T.
    cutoff = sorted(scores)[2]
    due_at = expected_scored_at(cutoff, unit)
    due = conn.execute(
        sql.SQL("SELECT member FROM {} WHERE board = %s AND scored_at <= %s ORDER BY score, member").format(table),
        ("sched:default", due_at),
    ).fetchall()
    assert [m.encode() for (m,) in due] == redis_client.zrangebyscore("sched:default", "-inf", cutoff)
    index = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s", (f"sched_{unit}", "%scored_at%")
    ).fetchone()
    assert index is not None and index[0].endswith("(board, scored_at)")

    # A score PostgreSQL cannot turn into a timestamp is refused, naming the option to change.
    redis_client.zadd("sched:far", {"job": 1e300})
    with pytest.raises(DataError, match=r"target.options.score_time: key 'sched:far' has a score \(1e\+300\)"):
        copy_item(redis_client, conn, item)


def test_ranks_ignore_a_linguistic_database_collation(redis_client: redis.Redis, pg15_admin_url: str) -> None:
    """On a database whose default collation is ICU (linguistic), text ranks still follow Redis' bytes.

    The PostgreSQL 18 test server only has bytewise collations (no ICU, no libc locales), so this
    runs on the PostgreSQL 15 server of the services script, which has ICU.
    """
    name = f"pgc_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg15_admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C'").format(
                sql.Identifier(name)
            )
        )
    try:
        url = pg15_admin_url.rsplit("/", 1)[0] + "/" + name
        with psycopg.connect(url, autocommit=True) as conn:
            # The database really is linguistic: 'a' sorts before 'B' here (in bytes 'B' < 'a').
            assert conn.execute("SELECT 'a' < 'B'").fetchone() == (True,)
            item = make_item()
            apply_ddl(conn, render_item_ddl(item, None))
            redis_client.zadd("lb:tied", dict.fromkeys(MEMBERS, 5))
            redis_client.zadd("lb:mixed", {m: i % 3 for i, m in enumerate(MEMBERS)})
            copy_item(redis_client, conn, item)

            assert verify_item(redis_client, conn, item, full=True).ok
            assert pg_ranks(conn, "lb_text") == redis_ranks(redis_client, [b"lb:mixed", b"lb:tied"])
            assert_top_matches(conn, redis_client, "lb_text", "lb:tied", len(MEMBERS))
    finally:
        with psycopg.connect(pg15_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
