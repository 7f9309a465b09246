"""The test services answer, with the versions and settings the rest of the suite relies on."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from elasticsearch import Elasticsearch

from pgconsolidate.config import url_password


def _with_password(url: str, password: str | None) -> str:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}"
    netloc = host if password is None else f":{password}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_redis_answers_ping_on_a_reserved_empty_db(redis_client: redis.Redis, redis_url: str) -> None:
    assert redis_client.ping() is True
    assert int(urlsplit(redis_url).path.lstrip("/")) >= 1, "tests must never get db 0 (it holds the leases)"
    assert redis_client.dbsize() == 0
    redis_client.set(b"k", b"\x00\xff")
    assert redis_client.get(b"k") == b"\x00\xff"


def test_redis_requires_the_password(redis_url: str) -> None:
    password = url_password(redis_url)
    assert password, "the test Redis must require a password (services.sh sets requirepass)"
    for bad_url in (_with_password(redis_url, None), _with_password(redis_url, password + "-wrong")):
        client = redis.Redis.from_url(bad_url, socket_timeout=5)
        try:
            with pytest.raises(redis.AuthenticationError):
                client.ping()
        finally:
            client.close()


def test_postgres_is_18_and_has_pgvector(pg_url: str, pg_admin_url: str) -> None:
    assert urlsplit(pg_url).path != urlsplit(pg_admin_url).path, "pg_url must be a database of its own"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None and int(row[0]) >= 180000
        conn.execute("CREATE EXTENSION vector")
        dist = conn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector").fetchone()
        assert dist is not None and dist[0] == pytest.approx(2.0)
        # Fresh database: nothing but what this test created.
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
        assert tables == (0,)


def test_postgres_refuses_a_wrong_password(pg_admin_url: str) -> None:
    password = url_password(pg_admin_url)
    assert password, "the test PostgreSQL must require a password (initdb --auth=scram-sha-256)"
    parts = urlsplit(pg_admin_url)
    bad = urlunsplit(parts._replace(netloc=f"{parts.username}:{password}-wrong@{parts.hostname}:{parts.port}"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad, connect_timeout=5).close()


def test_postgres15_has_pg_cron_preloaded_and_pg_partman(pg15_url: str, pg15_admin_url: str) -> None:
    assert urlsplit(pg15_url).path != urlsplit(pg15_admin_url).path, "pg15_url must be a database of its own"
    with psycopg.connect(pg15_url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None and 150000 <= int(row[0]) < 160000
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
        assert preload is not None and "pg_cron" in [lib.strip() for lib in str(preload[0]).split(",")]
        # pg_cron schedules from this one database; the extension tests rely on it being `postgres`.
        assert conn.execute("SHOW cron.database_name").fetchone() == ("postgres",)
        available: dict[str, str] = dict(
            conn.execute(
                "SELECT name, default_version FROM pg_available_extensions WHERE name IN ('pg_cron', 'pg_partman')"
            ).fetchall()
        )
        assert set(available) == {"pg_cron", "pg_partman"}, available
        # schedule_in_database (jobs for databases other than cron.database_name) needs pg_cron 1.4.
        assert tuple(int(p) for p in available["pg_cron"].replace("-", ".").split(".")[:2]) >= (1, 4)
    bad = urlsplit(pg15_admin_url)
    password = url_password(pg15_admin_url)
    assert password, "the PostgreSQL 15 test server must require a password too"
    wrong = urlunsplit(bad._replace(netloc=f"{bad.username}:{password}-wrong@{bad.hostname}:{bad.port}"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5).close()


def test_elasticsearch_is_9_and_healthy(es_url: str) -> None:
    es = Elasticsearch(es_url, request_timeout=30)
    try:
        # The integ-test distribution has no `GET /` handler (no rest-root module), so the
        # version comes from the nodes info API instead of es.info().
        nodes = es.nodes.info(filter_path="nodes.*.version")["nodes"]
        versions = {node["version"] for node in nodes.values()}
        assert versions and all(v.split(".")[0] == "9" for v in versions), versions
        health = es.cluster.health(wait_for_status="yellow", timeout="30s")
        assert health["status"] in ("green", "yellow")
    finally:
        es.close()
