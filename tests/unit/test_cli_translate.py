"""``pgconsolidate translate``: an ES query against a plan file, no connection needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _plan_factories import caps
from typer.testing import CliRunner

from pgconsolidate.cli import app
from pgconsolidate.es.analyze import analyzer_fit, flatten_mapping
from pgconsolidate.es.corpus import corpus_mapping
from pgconsolidate.models import Inventory
from pgconsolidate.models_es import EsIndexFacts, EsInventory, EsServerInfo
from pgconsolidate.planfile import save_plan
from pgconsolidate.planner import build_plan

TARGET = caps(available={"plpgsql": "1.0", "vector": "0.8.0", "pg_trgm": "1.6"})


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    """A plan migrating one corpus-shaped index (the mapping the tests and the benchmark index)."""
    fields, info = flatten_mapping(corpus_mapping()["mappings"])
    facts = EsIndexFacts(
        name="articles",
        indices=["articles"],
        docs_count=1000,
        fields=fields,
        analyzers=[analyzer_fit("standard")],
        dynamic=info.dynamic,
    )
    from pgconsolidate.es.classify import classify_index
    from pgconsolidate.models_es import EsIndexReport

    inv = Inventory(
        tool_version="0.1.0",
        generated_at="2026-01-01T00:00:00+00:00",
        elasticsearch=EsInventory(
            url="http://es.example:9200",
            fingerprint="e" * 16,
            server=EsServerInfo(version="9.2.0"),
            indices=[EsIndexReport(facts=facts, usage=classify_index(facts))],
        ),
    )
    plan = build_plan(inv, TARGET, generated_at="x")
    return save_plan(plan, tmp_path / "search.yaml")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["translate", *args])
    return result.exit_code, result.output


def test_match_query_becomes_tsquery_sql(plan_path: Path) -> None:
    code, out = run('{"query": {"match": {"title": "postgres rust"}}}', "--plan", str(plan_path))
    assert code == 0, out
    assert "@@" in out and "PLAINTO_TSQUERY('simple', 'postgres')" in out and "LIMIT 10" in out


def test_json_format_and_query_file(plan_path: Path, tmp_path: Path) -> None:
    query = tmp_path / "q.json"
    query.write_text(json.dumps({"query": {"term": {"tags": "json"}}, "size": 3}))
    code, out = run(f"@{query}", "--plan", str(plan_path), "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["unsupported"] == [] and "LIMIT 3" in data["sql"]


def test_unsupported_clause_exits_2_unless_allowed(plan_path: Path) -> None:
    body = '{"query": {"bool": {"must": [{"match": {"body": "x"}}, {"script": {"script": "1"}}]}}}'
    code, out = run(body, "--plan", str(plan_path))
    assert code == 2 and "query.bool.must[1].script" in out
    code, out = run(body, "--plan", str(plan_path), "--allow-partial")
    assert code == 0 and "UNSUPPORTED" in out


def test_bad_json_and_unknown_item_are_usage_errors(plan_path: Path) -> None:
    code, out = run("{not json", "--plan", str(plan_path))
    assert code == 2 and "not valid JSON" in out
    code, out = run("{}", "--plan", str(plan_path), "--item", "es.nope")
    assert code == 2 and "no plan item with id es.nope" in out
