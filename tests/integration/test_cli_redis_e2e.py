"""The Redis slice end to end through the real CLI: analyze -> plan -> ddl -> migrate -> verify.

Real Redis, real PostgreSQL 18, the CLI run as a subprocess exactly as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from pgconsolidate.config import url_password
from pgconsolidate.demo import seed_demo_keyspace
from pgconsolidate.models import Plan, PlanItem, UsageKind


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pgconsolidate`` with a clean environment (no inherited PGCONSOLIDATE_* URLs)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLIDATE_") or k.endswith("STATE_DIR")}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pgconsolidate", *args], capture_output=True, text=True, env=base, timeout=600
    )


def item_for(plan: Plan, prefix: str, usage: UsageKind | None = None) -> PlanItem:
    """The plan item whose pattern starts with ``prefix`` (and has ``usage``)."""
    found = [
        it
        for it in plan.items
        if getattr(it.source, "pattern", "").startswith(prefix) and (usage is None or it.usage.kind == usage)
    ]
    assert found, f"no plan item for {prefix!r}: {[getattr(i.source, 'pattern', '') for i in plan.items]}"
    return found[0]


def qualified(item: PlanItem) -> sql.Composed:
    """schema.table of an item as a safe identifier."""
    assert item.target is not None
    return sql.Identifier(item.target.schema_name, item.target.table).as_string(None)  # type: ignore[return-value]


@pytest.fixture
def pipeline(tmp_path: Path, redis_client: Any, redis_url: str, pg_url: str) -> dict[str, Any]:
    """Seed, analyze, plan and migrate once; tests then inspect and poke the result."""
    summary = seed_demo_keyspace(redis_client, scale=1)
    inv = tmp_path / "inventory.json"
    plan_path = tmp_path / "plans" / "app.yaml"
    r = run_cli("analyze", "--redis", redis_url, "-o", str(inv), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert url_password(redis_url) not in r.stdout + r.stderr
    r = run_cli("plan", str(inv), "--target", pg_url, "-o", str(plan_path))
    assert r.returncode == 0, r.stderr
    from pgconsolidate.planfile import load_plan

    plan = load_plan(plan_path)
    r = run_cli("migrate", str(plan_path), "--target", pg_url, "--redis", redis_url, "--format", "json")
    assert r.returncode == 0, r.stderr
    migrate_report = json.loads(r.stdout)
    return {
        "summary": summary,
        "plan_path": plan_path,
        "plan": plan,
        "inventory": inv,
        "migrate": migrate_report,
        "redis_url": redis_url,
        "pg_url": pg_url,
        "redis": redis_client,
    }


def test_end_to_end_tables_persistence_and_data(pipeline: dict[str, Any]) -> None:
    plan: Plan = pipeline["plan"]
    redis_client = pipeline["redis"]
    verdicts = {it.usage.kind: it.verdict for it in plan.items}
    for kind in (UsageKind.SESSION, UsageKind.CACHE, UsageKind.COUNTER, UsageKind.OBJECT_HASH, UsageKind.JSON_DOCUMENT):
        assert verdicts.get(kind) == "migrate", (kind, verdicts)
    for kind in (UsageKind.QUEUE, UsageKind.LEADERBOARD, UsageKind.STREAM, UsageKind.SET, UsageKind.LOCK):
        assert verdicts.get(kind) == "migrate", (kind, verdicts)

    # Collections: every element arrived, as many rows per key; locks copy nothing.
    copied_rows = {i["item_id"]: (i["mode"], i["keys"], i["rows"]) for i in pipeline["migrate"]["items"]}
    queue = item_for(plan, "queue:emails", UsageKind.QUEUE)
    assert queue.target is not None and queue.target.mapping == "queue_pgmq"
    assert copied_rows[queue.id] == ("copy", 1, 20)
    assert copied_rows[item_for(plan, "tags:", UsageKind.SET).id] == ("copy", 20, 60)
    assert copied_rows[item_for(plan, "leaderboard:", UsageKind.LEADERBOARD).id] == ("copy", 1, 20)
    assert copied_rows[item_for(plan, "events:", UsageKind.STREAM).id] == ("copy", 1, 20)
    assert copied_rows[item_for(plan, "lock:", UsageKind.LOCK).id][0] == "skipped"
    with psycopg.connect(pipeline["pg_url"]) as conn:
        # pgmq pops in the order the plan says Redis consumers pop (the demo's messages are JSON).
        assert queue.target.options["payload"] == "json"
        head = 0 if queue.target.options["pop_end"] == "left" else -1
        popped = conn.execute("SELECT message FROM pgmq.pop(%s)", (queue.target.options["queue_name"],)).fetchone()
        assert popped is not None and popped[0] == json.loads(redis_client.lindex("queue:emails", head))

    sessions = item_for(plan, "session:", UsageKind.SESSION)
    users = item_for(plan, "user:", UsageKind.OBJECT_HASH)
    counters = item_for(plan, "views:", UsageKind.COUNTER)
    products = item_for(plan, "product:", UsageKind.JSON_DOCUMENT)
    thumbs = item_for(plan, "cache:thumb:")

    with psycopg.connect(pipeline["pg_url"]) as conn:

        def persistence(item: PlanItem) -> str:
            assert item.target is not None
            row = conn.execute(
                "SELECT c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s",
                (item.target.schema_name, item.target.table),
            ).fetchone()
            assert row is not None, f"table {item.target.table} missing"
            return str(row[0])

        assert persistence(sessions) == "u"
        assert persistence(thumbs) == "u"
        assert persistence(users) == "p"
        assert persistence(counters) == "p"
        assert persistence(products) == "p"

        # every seeded key of these families arrived exactly once
        copied = {i["item_id"]: i["rows"] for i in pipeline["migrate"]["items"]}
        assert copied[sessions.id] == pipeline["summary"].counts["session_hash"]
        assert copied[users.id] == pipeline["summary"].counts["user_hash"]
        assert copied[counters.id] == pipeline["summary"].counts["counter"]
        assert copied[products.id] == pipeline["summary"].counts["product_json"]

        n = conn.execute(sql.SQL("SELECT count(*), count(DISTINCT key) FROM {}").format(sql.SQL(qualified(counters))))
        total, distinct = n.fetchone()  # type: ignore[misc]
        assert total == distinct == pipeline["summary"].counts["counter"]

        # counters: the integer survived as bigint
        value = conn.execute(
            sql.SQL("SELECT value FROM {} WHERE key = %s").format(sql.SQL(qualified(counters))), ("views:article:7",)
        ).fetchone()
        assert value is not None and value[0] == int(redis_client.get(b"views:article:7"))

        # binary values kept byte for byte
        thumb = conn.execute(
            sql.SQL("SELECT value, expires_at FROM {} WHERE key = %s").format(sql.SQL(qualified(thumbs))),
            ("cache:thumb:3",),
        ).fetchone()
        assert thumb is not None and bytes(thumb[0]) == redis_client.get(b"cache:thumb:3")
        assert thumb[1] is not None  # the TTL became an absolute expiry

        # the awkward unicode / quote / space keys made it
        pages = item_for(plan, "cache:page:")
        keys = {
            r[0]
            for r in conn.execute(
                sql.SQL("SELECT key FROM {} WHERE key LIKE %s").format(sql.SQL(qualified(pages))), ("%/caf%",)
            )
        }
        assert "cache:page:/café/ünicode 😀" in keys

    # re-running migrate is idempotent: same row counts, no duplicates
    r = run_cli("migrate", str(pipeline["plan_path"]), "--target", pipeline["pg_url"], "--redis", pipeline["redis_url"])
    assert r.returncode == 0, r.stderr
    r = run_cli("verify", str(pipeline["plan_path"]), "--target", pipeline["pg_url"], "--redis", pipeline["redis_url"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_verify_passes_then_fails_with_exit_3_after_one_row_is_altered(pipeline: dict[str, Any]) -> None:
    plan: Plan = pipeline["plan"]
    args = ["--target", pipeline["pg_url"], "--redis", pipeline["redis_url"]]
    r = run_cli("verify", str(pipeline["plan_path"]), *args, "--full", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert all(not any(i["mismatch_counts"].values()) for i in report["items"])

    users = item_for(plan, "user:", UsageKind.OBJECT_HASH)
    with psycopg.connect(pipeline["pg_url"]) as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET fields = jsonb_set(fields, '{{plan}}', '\"hacked\"') WHERE key = %s").format(
                sql.SQL(qualified(users))
            ),
            ("user:42",),
        )
    r = run_cli("verify", str(pipeline["plan_path"]), *args, "--full", "--format", "markdown")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "user:42" in r.stdout
    assert "hacked" not in r.stdout  # values are redacted unless --show-values
    r = run_cli("verify", str(pipeline["plan_path"]), *args, "--full", "--show-values", "--format", "json")
    assert r.returncode == 3
    bad = next(i for i in json.loads(r.stdout)["items"] if i["item_id"] == users.id)
    assert bad["mismatch_counts"]["value"] == 1
    assert "hacked" in json.dumps(bad["mismatches"])


def test_ddl_needs_no_connection_and_is_sqlglot_clean(pipeline: dict[str, Any]) -> None:
    r = run_cli(
        "ddl", str(pipeline["plan_path"]), env={"PGCONSOLIDATE_TARGET_URL": "postgresql://nobody@127.0.0.1:1/x"}
    )
    assert r.returncode == 0, r.stderr
    assert "CREATE UNLOGGED TABLE" in r.stdout
    r = run_cli("ddl", str(pipeline["plan_path"]), "--format", "json")
    statements = json.loads(r.stdout)
    assert statements and all(isinstance(s, str) for s in statements)


# ----------------------------------------------------------------------------- bad input


def _one_clean_error(r: subprocess.CompletedProcess[str], *secrets: str) -> str:
    """Assert a failed run printed a clear error, no traceback, and no secret."""
    text = r.stdout + r.stderr
    assert "Traceback" not in text
    assert "error:" in r.stderr
    for s in secrets:
        assert s not in text
    return r.stderr


def test_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    r = run_cli("analyze", "--redis", "redis://:sup3rsecret@127.0.0.1:1/0", "-o", str(tmp_path / "i.json"))
    assert r.returncode == 4
    msg = _one_clean_error(r, "sup3rsecret")
    assert "127.0.0.1:1" in msg


def test_wrong_redis_password(redis_url: str) -> None:
    bad = redis_url.replace(f":{url_password(redis_url)}@", ":wr0ngpassw0rd@") if url_password(redis_url) else None
    if bad is None:
        pytest.fail("the test Redis must require a password (scripts/services.sh sets one)")
    r = run_cli("analyze", "--redis", bad)
    assert r.returncode == 4
    assert "auth" in _one_clean_error(r, "wr0ngpassw0rd").lower()


def test_unreachable_and_wrong_password_postgres(
    tmp_path: Path, pg_url: str, redis_client: Any, redis_url: str
) -> None:
    seed_demo_keyspace(redis_client, scale=1)
    inv = tmp_path / "inv.json"
    assert run_cli("analyze", "--redis", redis_url, "-o", str(inv)).returncode == 0
    r = run_cli("plan", str(inv), "--target", "postgresql://u:n0tthispw@127.0.0.1:1/db")
    assert r.returncode == 4
    _one_clean_error(r, "n0tthispw")
    pw = url_password(pg_url)
    assert pw, "the test PostgreSQL must require a password"
    r = run_cli("plan", str(inv), "--target", pg_url.replace(f":{pw}@", ":wr0ngpassw0rd@"))
    assert r.returncode == 4
    assert "password" in _one_clean_error(r, "wr0ngpassw0rd").lower()


def test_malformed_plans_name_the_problem(tmp_path: Path, pipeline: dict[str, Any]) -> None:
    good = yaml.safe_load(pipeline["plan_path"].read_text())
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("items: [\n  - id: x\n")
    r = run_cli("ddl", str(broken_yaml))
    assert r.returncode == 2
    _one_clean_error(r)

    idx = next(i for i, it in enumerate(good["items"]) if it.get("verdict") == "migrate")
    good["items"][idx]["target"]["options"]["value_type"] = "varchar"
    good["items"][idx]["target"]["mapping"] = good["items"][idx]["target"]["mapping"]
    bad_field = tmp_path / "bad-field.yaml"
    bad_field.write_text(yaml.safe_dump(good))
    r = run_cli("ddl", str(bad_field))
    assert r.returncode == 2
    msg = _one_clean_error(r)
    assert f"items[{idx}].target.options" in msg

    missing = run_cli("migrate", str(tmp_path / "nope.yaml"), "--target", pipeline["pg_url"])
    assert missing.returncode == 2
    _one_clean_error(missing)


def test_runs_are_logged_with_uuidv7_ids(pipeline: dict[str, Any]) -> None:
    run_id = pipeline["migrate"]["run_id"]
    with psycopg.connect(pipeline["pg_url"]) as conn:
        row = conn.execute(
            "SELECT status, rows_copied, run_id::text FROM pgconsolidate.runs WHERE run_id = %s", (run_id,)
        ).fetchone()
    assert row is not None
    status, rows, rid = row
    assert status == "succeeded"
    assert rows == sum(i["rows"] for i in pipeline["migrate"]["items"])
    assert rid[14] == "7", f"{rid} is not a version-7 UUID (PostgreSQL 18 has uuidv7())"


def test_value_that_does_not_fit_stops_with_key_and_plan_field(tmp_path: Path, pipeline: dict[str, Any]) -> None:
    """A hand edit makes HTML cache values `jsonb`: migrate must stop, name a key and the field, log the run."""
    raw = yaml.safe_load(pipeline["plan_path"].read_text())
    idx = next(
        i
        for i, it in enumerate(raw["items"])
        if it["source"].get("pattern", "").startswith("cache:page:/") and it.get("target")
    )
    raw["items"][idx]["target"]["options"]["value_type"] = "jsonb"
    raw["items"][idx]["target"]["table"] = "edited_pages"
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(raw))
    r = run_cli(
        "migrate",
        str(edited),
        "--target",
        pipeline["pg_url"],
        "--redis",
        pipeline["redis_url"],
        "--only",
        raw["items"][idx]["id"],
    )
    assert r.returncode == 6, r.stdout + r.stderr
    msg = _one_clean_error(r, url_password(pipeline["redis_url"]) or "", url_password(pipeline["pg_url"]) or "")
    assert "target.options.value_type" in msg
    assert "cache:page:" in msg
    with psycopg.connect(pipeline["pg_url"]) as conn:
        n = conn.execute("SELECT count(*) FROM edited_pages").fetchone()
        failed = conn.execute("SELECT count(*) FROM pgconsolidate.runs WHERE status = 'failed'").fetchone()
    assert n is not None and n[0] == 0  # nothing half-written
    assert failed is not None and failed[0] == 1
