"""CLI behaviour that needs no service: help, version, ddl offline, usage errors and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from _plan_factories import item
from typer.testing import CliRunner

from pgconsolidate import __version__
from pgconsolidate.cli import app
from pgconsolidate.models import Plan, PlanTarget
from pgconsolidate.planfile import save_plan

runner = CliRunner()


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    plan = Plan(
        tool_version=__version__,
        generated_at="2026-01-01T00:00:00+00:00",
        sources=[],
        target=PlanTarget(server_version="18.1", fingerprint="f" * 16),
        items=[item("kv_table", {"unlogged": True, "cleanup": "sweep"}, table="redis_cache")],
    )
    return save_plan(plan, tmp_path / "plan.yaml")


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"pgconsolidate {__version__}"


def test_help_says_where_the_embedded_target_keeps_its_data() -> None:
    r = runner.invoke(app, ["migrate", "--help"], env={"COLUMNS": "400"})
    assert r.exit_code == 0
    assert "embedded-pg" in r.output and "PGCONSOLIDATE_STATE_DIR" in r.output


def test_ddl_is_offline_and_formats(plan_file: Path) -> None:
    sql = runner.invoke(app, ["ddl", str(plan_file)], env={"PGCONSOLIDATE_TARGET_URL": "postgresql://x@127.0.0.1:1/x"})
    assert sql.exit_code == 0, sql.output
    assert 'CREATE UNLOGGED TABLE IF NOT EXISTS "public"."redis_cache"' in sql.output
    md = runner.invoke(app, ["ddl", str(plan_file), "--format", "markdown"])
    assert md.output.startswith("```sql\n") and md.output.rstrip().endswith("```")


def test_missing_redis_url_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGCONSOLIDATE_REDIS_URL", raising=False)
    r = runner.invoke(app, ["analyze"])
    assert r.exit_code == 2
    assert "no Redis or Elasticsearch URL given" in r.output and "PGCONSOLIDATE_REDIS_URL" in r.output


def test_unknown_only_id_is_refused_before_connecting(plan_file: Path) -> None:
    r = runner.invoke(
        app, ["migrate", str(plan_file), "--only", "redis.db0.cache-id.abc124", "--redis", "redis://127.0.0.1:1/0"]
    )
    assert r.exit_code == 2
    assert "did you mean redis.db0.cache-id.abc123?" in r.output


def test_missing_plan_file(tmp_path: Path) -> None:
    r = runner.invoke(app, ["ddl", str(tmp_path / "absent.yaml")])
    assert r.exit_code == 2 and "Traceback" not in r.output
