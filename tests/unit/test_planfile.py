"""Plan files: deterministic dump, round trip, and every validation error with its exact path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from _plan_factories import caps, inventory, pattern

from pgconsolidate.errors import PlanError
from pgconsolidate.models import Plan
from pgconsolidate.models import UsageKind as K
from pgconsolidate.planfile import dump_plan, load_plan, parse_plan, plan_fingerprint, save_plan
from pgconsolidate.planner import build_plan


@pytest.fixture
def plan() -> Plan:
    inv = inventory(
        pattern("session:{uuid}", K.SESSION, shapes={"json_object": 100}),
        pattern("views:{id}", K.COUNTER, shapes={"integer": 100}),
        pattern("user:{id}", K.OBJECT_HASH, redis_type="hash", with_ttl=0, without_ttl=10),
        pattern("misc:{name}", K.UNKNOWN, redis_type="list"),
    )
    return build_plan(inv, caps(), generated_at="2026-01-01T00:00:00+00:00")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def index_of(plan: Plan, mapping: str | None) -> int:
    """Position of the first item with that mapping (None: the first item without a target)."""
    return next(i for i, it in enumerate(plan.items) if (it.target.mapping if it.target else None) == mapping)


def edited(plan: Plan, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(dump_plan(plan))
    edit(data)
    return write(tmp_path, yaml.safe_dump(data))


def test_round_trip_and_determinism(plan: Plan, tmp_path: Path) -> None:
    text = dump_plan(plan)
    assert text == dump_plan(plan)
    assert text.startswith("# pgconsolidate plan:") and "Hand-editable" in text
    path = save_plan(plan, tmp_path / "sub" / "plan.yaml")
    loaded = load_plan(path)
    assert loaded == plan
    assert dump_plan(loaded) == text


def test_dump_sorts_keys_and_items_and_uses_aliases(plan: Plan) -> None:
    shuffled = plan.model_copy(update={"items": list(reversed(plan.items))})
    text = dump_plan(shuffled)
    assert text == dump_plan(plan)
    data = yaml.safe_load(text)
    assert [it["id"] for it in data["items"]] == sorted(it["id"] for it in data["items"])
    first = data["items"][0]
    assert "copy" in first and "copy_options" not in first
    assert list(first) == sorted(first)
    assert any(it["target"] and "schema" in it["target"] for it in data["items"])


def test_fingerprint_ignores_time_and_order_but_not_decisions(plan: Plan) -> None:
    fp = plan_fingerprint(plan)
    assert fp == plan_fingerprint(plan.model_copy(update={"generated_at": "later", "items": plan.items[::-1]}))
    changed = plan.model_copy(deep=True)
    changed.items[0].verdict = "keep"
    assert plan_fingerprint(changed) != fp


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "format_version: 1\nitems: [\n  - a: b\n")
    with pytest.raises(PlanError, match=r"plan\.yaml:\d+:\d+: YAML syntax error: "):
        load_plan(path)


def test_not_a_mapping_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="a plan file is a YAML mapping"):
        load_plan(write(tmp_path, "- 1\n"))
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(tmp_path / "missing.yaml")


def test_bad_option_value_names_exact_path(plan: Plan, tmp_path: Path) -> None:
    index = index_of(plan, "kv_table")

    def edit(data: dict[str, Any]) -> None:
        data["items"][index]["target"]["options"]["value_type"] = "blob"

    with pytest.raises(PlanError) as err:
        load_plan(edited(plan, tmp_path, edit))
    assert f"items[{index}].target.options.value_type: Input should be 'text', 'bytea' or 'jsonb'" in str(err.value)
    assert "plan.yaml" in str(err.value)


def test_unknown_option_and_unknown_field(plan: Plan, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["items"][1]["verfy"] = {}

    with pytest.raises(PlanError) as err:
        load_plan(edited(plan, tmp_path, edit))
    assert "items[1].verfy: Extra inputs are not permitted" in str(err.value)


def test_unknown_option_is_reported_by_mapping_model(plan: Plan, tmp_path: Path) -> None:
    i = index_of(plan, "counter")

    def edit(data: dict[str, Any]) -> None:
        data["items"][i]["target"]["options"]["ttl_column"] = True

    with pytest.raises(PlanError, match=rf"items\[{i}\]\.target\.options\.ttl_column: Extra inputs are not permitted"):
        load_plan(edited(plan, tmp_path, edit))


def test_model_errors_render_paths_without_union_tags(plan: Plan, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["items"][2]["source"]["db"] = "zero"
        data["items"][0]["copy"]["batch_size"] = 0

    with pytest.raises(PlanError) as err:
        load_plan(edited(plan, tmp_path, edit))
    assert "items[2].source.db: Input should be a valid integer" in str(err.value)
    assert "items[0].copy.batch_size: Input should be greater than or equal to 1" in str(err.value)


def test_mapping_typo_suggests_name(plan: Plan, tmp_path: Path) -> None:
    i = index_of(plan, "kv_table")

    def edit(data: dict[str, Any]) -> None:
        data["items"][i]["target"]["mapping"] = "kv_tabel"

    with pytest.raises(PlanError, match=rf"items\[{i}\]\.target\.mapping: unknown mapping 'kv_tabel'; did you mean"):
        load_plan(edited(plan, tmp_path, edit))


def test_mapping_must_read_the_source_type(plan: Plan, tmp_path: Path) -> None:
    index = index_of(plan, "hash_jsonb")

    def edit(data: dict[str, Any]) -> None:
        data["items"][index]["target"]["mapping"] = "counter"
        data["items"][index]["target"]["options"] = {}

    with pytest.raises(PlanError, match=rf"items\[{index}\]\.target\.mapping: counter reads Redis string keys"):
        load_plan(edited(plan, tmp_path, edit))


def test_newer_format_version_is_refused(plan: Plan, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["format_version"] = 99

    with pytest.raises(PlanError, match="format_version 99 was written by a newer pgconsolidate"):
        load_plan(edited(plan, tmp_path, edit))


def test_duplicate_ids_and_tables(plan: Plan, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["items"][1]["id"] = data["items"][0]["id"]
        migrating = [it for it in data["items"] if it["target"]]
        migrating[1]["target"]["table"] = migrating[0]["target"]["table"]

    with pytest.raises(PlanError) as err:
        load_plan(edited(plan, tmp_path, edit))
    first, second = [i for i, it in enumerate(plan.items) if it.target][:2]
    assert "items[1].id: duplicate id" in str(err.value)
    assert f"items[{second}].target.table: 'public." in str(err.value)
    assert f"is also the table of items[{first}]" in str(err.value)


def test_migrate_without_target_and_overlong_table(plan: Plan, tmp_path: Path) -> None:
    review, counter = index_of(plan, None), index_of(plan, "counter")

    def edit(data: dict[str, Any]) -> None:
        data["items"][review]["verdict"] = "migrate"
        data["items"][counter]["target"]["table"] = "t" * 64

    with pytest.raises(PlanError) as err:
        load_plan(edited(plan, tmp_path, edit))
    assert f"items[{review}].target: required when verdict is migrate" in str(err.value)
    assert f"items[{counter}].target.table: must be 1 to 63 bytes long" in str(err.value)


def test_parse_plan_without_file() -> None:
    with pytest.raises(PlanError, match=r"^<plan>: "):
        parse_plan("format_version: 1\n")


def test_example_plans_load_and_are_canonical(repo_root: Path) -> None:
    examples = sorted((repo_root / "plans").glob("*.yaml"))
    assert examples, "plans/ should hold at least one example plan"
    for path in examples:
        plan = load_plan(path)
        assert dump_plan(plan) == path.read_text(encoding="utf-8"), f"{path.name} is not in canonical form"
