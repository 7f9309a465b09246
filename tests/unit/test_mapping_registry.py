"""The registry guard and the golden DDL of every mapping.

Each mapping in MAPPINGS must have a template, a golden file of its rendered DDL and an
integration round-trip module. Regenerate the golden files after an intended template change
with ``PGCONSOLIDATE_UPDATE_GOLDEN=1 pytest tests/unit/test_mapping_registry.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from _plan_factories import caps, item

from pgconsolidate.errors import PlanError
from pgconsolidate.execute.cron import render_item_cron
from pgconsolidate.execute.ddl import render_item_ddl, sweep_sql
from pgconsolidate.mappings import MAPPINGS, get_mapping, mapping_names
from pgconsolidate.templating import has_block, template_name, templates_dir

TESTS = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

# Per mapping: (variant title, options, schema, table, redis type); the first is the planner's usual choice.
VARIANTS: dict[str, list[tuple[str, dict[str, Any], str, str, str]]] = {
    "kv_table": [
        (
            "cache: unlogged text, pg_cron",
            {"value_type": "text", "unlogged": True, "cleanup": "pg_cron"},
            "public",
            "redis_cache",
            "string",
        ),
        (
            "session: unlogged jsonb, sweep, custom schema",
            {"value_type": "jsonb", "unlogged": True, "cleanup": "sweep"},
            "app",
            "redis_session",
            "string",
        ),
        (
            "document: logged bytea key and value, no cleanup",
            {"value_type": "bytea", "key_type": "bytea", "unlogged": False, "cleanup": "none"},
            "public",
            'odd "name"',
            "string",
        ),
    ],
    "hash_jsonb": [
        ("session hash: unlogged, pg_cron", {"unlogged": True, "cleanup": "pg_cron"}, "public", "redis_sess", "hash"),
        ("object hash: logged base64, no cleanup", {"field_encoding": "base64"}, "public", "redis_user", "hash"),
    ],
    "counter": [
        ("counter: pg_cron", {"cleanup": "pg_cron"}, "public", "redis_views", "string"),
        (
            "counter: bytea keys, sweep, name with $pgc$",
            {"key_type": "bytea", "cleanup": "sweep"},
            "public",
            "c$pgc$x",
            "string",
        ),
    ],
}
# Mappings may keep their variants beside their golden file instead: golden/<name>.variants.json,
# a list of [title, options, schema, table, redis type].
for _path in sorted(GOLDEN.glob("*.variants.json")):
    VARIANTS.setdefault(_path.name.removesuffix(".variants.json"), [tuple(v) for v in json.loads(_path.read_text())])


def render_golden(name: str) -> str:
    """The golden text of a mapping: each variant's DDL statements and its sweep statement."""
    parts = [f"-- golden DDL for mapping {name} (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)"]
    for title, options, schema, table, redis_type in VARIANTS[name]:
        it = item(name, options, schema=schema, table=table, redis_type=redis_type)
        parts.append(f"-- variant: {title}")
        parts.extend(stmt + ";" for stmt in render_item_ddl(it, caps()))
        cron = render_item_cron(it, caps())
        if cron:
            parts.append("-- in pg_cron's database (cron.database_name):")
            parts.extend(stmt + ";" for stmt in cron)
        if has_block(name, "sweep"):
            parts.append(f"-- sweep:\n{sweep_sql(it)};")
    return "\n\n".join(parts) + "\n"


@pytest.mark.parametrize("name", mapping_names())
def test_mapping_has_template_and_golden(name: str) -> None:
    assert (templates_dir() / template_name(name)).is_file(), f"templates/{name}.sql.j2 is missing"
    assert (GOLDEN / f"{name}.sql").is_file(), f"tests/unit/golden/{name}.sql is missing"
    assert name in VARIANTS, f"add golden variants for {name} to VARIANTS"


@pytest.mark.parametrize("name", mapping_names())
def test_mapping_has_integration_roundtrip(name: str) -> None:
    roundtrip = TESTS / "integration" / f"test_roundtrip_{name}.py"
    assert roundtrip.is_file(), f"{roundtrip.relative_to(TESTS.parent)} is missing"


@pytest.mark.parametrize("name", mapping_names())
def test_golden_ddl(name: str) -> None:
    path = GOLDEN / f"{name}.sql"
    rendered = render_golden(name)
    if os.environ.get("PGCONSOLIDATE_UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), f"{path.name} differs: PGCONSOLIDATE_UPDATE_GOLDEN=1"


def test_registry_names_are_unique_and_lookup_works() -> None:
    names = mapping_names()
    assert len(names) == len(set(names)) == len(MAPPINGS)
    for mapping in MAPPINGS:
        assert get_mapping(mapping.name) is mapping
        # Elasticsearch mappings (source_kind "elasticsearch") read no Redis types.
        assert mapping.redis_types or getattr(mapping, "source_kind", "redis") != "redis"


def test_unknown_mapping_suggests_closest_name() -> None:
    with pytest.raises(PlanError, match="unknown mapping 'kv_tabel'; did you mean 'kv_table'"):
        get_mapping("kv_tabel")
    with pytest.raises(PlanError, match="known mappings: kv_table, hash_jsonb, counter"):
        get_mapping("zzz")


def test_rendering_is_deterministic_and_quotes_every_name() -> None:
    it = item("kv_table", {"cleanup": "pg_cron"}, schema='s"; DROP TABLE x; --', table="t'); DROP TABLE y; --")
    first = render_item_ddl(it, caps())
    assert first == render_item_ddl(it, caps())
    assert all('"s""; DROP TABLE x; --"' in stmt for stmt in first if "TABLE IF NOT EXISTS" in stmt)
    assert not any("cron." in stmt for stmt in first)  # scheduling runs in pg_cron's database, not here
    schedule = next(stmt for stmt in render_item_cron(it, caps()) if "cron.schedule" in stmt)
    assert "''); DROP TABLE y; --" in schedule  # the quote inside the job name/command is doubled
