"""Fixtures for integration tests against real Redis, PostgreSQL 18 and Elasticsearch.

Service URLs come from ``PGCONSOLIDATE_TEST_REDIS_URL``, ``PGCONSOLIDATE_TEST_PG_URL``,
``PGCONSOLIDATE_TEST_PG15_URL`` (PostgreSQL 15 with pg_cron/pg_partman, for the extension tests)
and ``PGCONSOLIDATE_TEST_ES_URL`` (``eval "$(bash scripts/services.sh env)"`` sets them all). A test
whose service is not configured is skipped with the reason, except when
``PGCONSOLIDATE_REQUIRE_SERVICES=1`` (set by ``scripts/test.sh`` and CI): then it fails, so a
misconfigured CI can never go green by skipping everything.

Isolation: every test gets its own Redis logical database (leased through a key in db 0, so
concurrent test runs against one server do not collide) and its own freshly created PostgreSQL
database, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from psycopg import sql

ENV_REDIS = "PGCONSOLIDATE_TEST_REDIS_URL"
ENV_PG = "PGCONSOLIDATE_TEST_PG_URL"
ENV_PG15 = "PGCONSOLIDATE_TEST_PG15_URL"
ENV_ES = "PGCONSOLIDATE_TEST_ES_URL"
ENV_REQUIRE = "PGCONSOLIDATE_REQUIRE_SERVICES"

_HERE = Path(__file__).resolve().parent
# Redis lease keys live in db 0; tests only ever get databases 1..N-1.
_LEASE_KEY = "pgconsolidate:test-db-lease:{db}"
# Long enough for any single test; a crashed run frees its database after this many seconds.
_LEASE_SECONDS = 1800
_TEST_DB_PREFIX = "pgc_test_"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected under tests/integration with ``integration``."""
    del config
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


def _service_url(env_var: str, what: str) -> str:
    """The URL in ``env_var``; skip (or fail, when services are required) when it is unset."""
    url = os.environ.get(env_var)
    if url:
        return url
    reason = f"{what} not configured: set {env_var} (see: bash scripts/services.sh env)"
    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"{ENV_REQUIRE}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _with_path(url: str, path: str) -> str:
    """``url`` with its path (Redis db number / PostgreSQL database name) replaced."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + path))


# --------------------------------------------------------------------------------------------
# Redis


@pytest.fixture(scope="session")
def redis_base_url() -> str:
    """The configured Redis server URL (db 0 holds the lease keys; tests must not write there)."""
    return _service_url(ENV_REDIS, "Redis")


@pytest.fixture
def redis_url(redis_base_url: str) -> Iterator[str]:
    """URL of a Redis logical database reserved for this test, FLUSHDB'd before (and after) it."""
    control = redis.Redis.from_url(_with_path(redis_base_url, "0"))
    try:
        try:
            configured = control.config_get("databases").get("databases")
            databases = int(configured) if configured else 16
        except redis.ResponseError:
            # CONFIG may be renamed/disabled on managed servers; 16 is Redis' default.
            databases = 16
        token = secrets.token_hex(8)
        leased: int | None = None
        for db in range(1, databases):
            if control.set(_LEASE_KEY.format(db=db), token, nx=True, ex=_LEASE_SECONDS):
                leased = db
                break
        if leased is None:
            pytest.fail(f"all {databases - 1} Redis test databases are leased; is another test run stuck?")
        url = _with_path(redis_base_url, str(leased))
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
            yield url
            client.flushdb()
        finally:
            client.close()
            # Release only our own lease (it may have expired and been re-taken by someone else).
            if control.get(_LEASE_KEY.format(db=leased)) == token.encode():
                control.delete(_LEASE_KEY.format(db=leased))
    finally:
        control.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A ``redis.Redis`` (bytes in, bytes out) on the test's reserved database."""
    client = redis.Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        client.close()


# --------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the PostgreSQL server's maintenance database (``postgres``); superuser credentials."""
    return _service_url(ENV_PG, "PostgreSQL")


@contextmanager
def _fresh_database(admin_url: str) -> Iterator[str]:
    """URL of a new, empty database on ``admin_url``'s server, dropped (forcefully) afterwards."""
    name = f"{_TEST_DB_PREFIX}{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_path(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # WITH (FORCE) terminates sessions a test (or the code under test) left open.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """URL of a fresh, empty database created for this test and dropped (forcefully) afterwards."""
    with _fresh_database(pg_admin_url) as url:
        yield url


# --------------------------------------------------------------------------------------------
# PostgreSQL 15 with pg_cron and pg_partman (only the extension tests use it)


@pytest.fixture(scope="session")
def pg15_admin_url() -> str:
    """URL of the PostgreSQL 15 server's ``postgres`` database (also its ``cron.database_name``)."""
    return _service_url(ENV_PG15, "PostgreSQL 15 (pg_cron, pg_partman)")


@pytest.fixture
def pg15_url(pg15_admin_url: str) -> Iterator[str]:
    """URL of a fresh, empty database on the PostgreSQL 15 server, dropped (forcefully) afterwards."""
    with _fresh_database(pg15_admin_url) as url:
        yield url


# --------------------------------------------------------------------------------------------
# Elasticsearch


@pytest.fixture(scope="session")
def es_url() -> str:
    """URL of the Elasticsearch node (plain HTTP). Tests create uniquely named indices and delete them."""
    return _service_url(ENV_ES, "Elasticsearch")


@pytest.fixture
def es_prefix(es_url: str) -> Iterator[str]:
    """A unique index-name prefix; every index and template named with it is deleted afterwards.

    The test cluster refuses wildcard deletes (destructive_requires_name), so names are resolved
    first and deleted one by one: never an index another test (or user) created.
    """
    from pgconsolidate.es.client import connect_es

    prefix = f"pgc-{uuid.uuid4().hex[:8]}-"
    yield prefix
    es = connect_es(es_url)
    try:
        resolved = es.perform_request(
            "GET",
            f"/_resolve/index/{prefix}*",
            params={"expand_wildcards": "all"},
            headers={"accept": "application/json"},
        ).body
        names = [i["name"] for i in resolved.get("indices", [])]
        if names:
            es.indices.delete(index=",".join(names), expand_wildcards="all", ignore_unavailable=True)
        found = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}*").body
        for tpl in found.get("index_templates", []):
            es.indices.delete_index_template(name=tpl["name"])
    finally:
        es.close()


@pytest.fixture
def es(es_url: str) -> Iterator[Any]:
    """A client on the test Elasticsearch (pgconsolidate's own, version-aware), closed afterwards."""
    from pgconsolidate.es.client import connect_es

    client = connect_es(es_url)
    yield client
    client.close()


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the test's fresh database (tests needing autocommit or seeded tables define their own)."""
    with psycopg.connect(pg_url) as c:
        yield c


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read collections of more than 50 elements in windows (the real threshold needs 10,000+ elements)."""
    from pgconsolidate.mappings import _members

    original = _members.read_collections

    def read(client: Any, keys: Any, kind: Any, now_ms: int, chunk: int = 50) -> Any:
        return original(client, keys, kind, now_ms, chunk)

    monkeypatch.setattr(_members, "read_collections", read)
