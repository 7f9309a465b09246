"""Plan files: deterministic YAML out, strict validation in, and fingerprints.

:func:`dump_plan` writes sorted keys at every level and items sorted by id, so the same plan is
the same bytes and a hand edit shows up as a one-line diff. :func:`load_plan` reports every
problem with the exact path of the field (``items[2].target.options.value_type: ...``), including
mapping options, which only the mapping's own Options model can validate.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from pgconsolidate.errors import PlanError
from pgconsolidate.mappings import get_mapping
from pgconsolidate.models import PLAN_FORMAT_VERSION, Plan

HEADER = (
    "# pgconsolidate plan: what `pgconsolidate migrate` will do, item by item.\n"
    "# Hand-editable: change a verdict, a table name or target.options, then run\n"
    "# `pgconsolidate migrate <this file>`; it is validated on load.\n"
)

_DISCRIMINATOR_TAGS = {"redis", "redis_channel"}
"""Tags pydantic inserts into error locations of the ``source`` union; not part of the file's path."""


def dump_plan(plan: Plan) -> str:
    """The plan as YAML: header comment, sorted keys, items sorted by id, field aliases (``copy``, ``schema``)."""
    data = plan.model_dump(mode="json", by_alias=True)
    data["items"] = sorted(data["items"], key=lambda it: it["id"])
    body = yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True, width=100)
    return HEADER + body


def save_plan(plan: Plan, path: str | Path) -> Path:
    """Write the plan to ``path`` (parent folders created); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump_plan(plan), encoding="utf-8")
    return target


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; PlanError naming the file and the exact path of each problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read plan file {source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanError(f"plan file {source} is not UTF-8 text") from None
    return parse_plan(text, str(source))


def parse_plan(text: str, origin: str = "<plan>") -> Plan:
    """Validate plan YAML ``text``; ``origin`` names it in messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(f"{origin}{where}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise PlanError(f"{origin}: a plan file is a YAML mapping (format_version, sources, target, items)")
    version = data.get("format_version")
    if isinstance(version, int) and version > PLAN_FORMAT_VERSION:
        raise PlanError(
            f"{origin}: format_version {version} was written by a newer pgconsolidate; "
            f"this one reads format_version {PLAN_FORMAT_VERSION}",
            hint="upgrade pgconsolidate",
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(f"{origin}: " + "; ".join(_render_errors(exc, ()))) from None
    problems = _check_items(plan)
    if problems:
        raise PlanError(f"{origin}: " + "; ".join(problems))
    return plan


def plan_fingerprint(plan: Plan) -> str:
    """Short sha256 of what the plan decides (everything but ``generated_at`` and ``tool_version``).

    Two plans with the same fingerprint migrate the same way, whenever and by whichever version
    they were written; item order does not matter.
    """
    data = plan.model_dump(mode="json", by_alias=True, exclude={"generated_at", "tool_version"})
    data["items"] = sorted(data["items"], key=lambda it: it["id"])
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _check_items(plan: Plan) -> list[str]:
    """Cross-field rules pydantic cannot express: mapping names/options, types, duplicates."""
    problems: list[str] = []
    ids: dict[str, int] = {}
    tables: dict[tuple[str, str], int] = {}
    for i, item in enumerate(plan.items):
        at = f"items[{i}]"
        if item.id in ids:
            problems.append(f"{at}.id: duplicate id '{item.id}' (also items[{ids[item.id]}])")
        ids.setdefault(item.id, i)
        if item.target is None:
            if item.verdict == "migrate":
                problems.append(f"{at}.target: required when verdict is migrate")
            continue
        target = item.target
        for field, name in (("schema", target.schema_name), ("table", target.table)):
            if not name or len(name.encode("utf-8")) > 63:
                problems.append(f"{at}.target.{field}: must be 1 to 63 bytes long, got '{name}'")
        key = (target.schema_name, target.table)
        if key in tables:
            problems.append(
                f"{at}.target.table: '{target.schema_name}.{target.table}' is also the table of items[{tables[key]}]"
            )
        tables.setdefault(key, i)
        try:
            mapping = get_mapping(target.mapping)
        except PlanError as exc:
            problems.append(f"{at}.target.mapping: {exc.message}")
            continue
        try:
            mapping.Options.model_validate(target.options)
        except ValidationError as exc:
            problems.extend(_render_errors(exc, (*_path_parts(at), "target", "options")))
        redis_type = getattr(item.source, "redis_type", None)
        if redis_type is not None and redis_type not in mapping.redis_types:
            kinds = ", ".join(sorted(mapping.redis_types))
            problems.append(
                f"{at}.target.mapping: {mapping.name} reads Redis {kinds} keys, but the source is a {redis_type}"
            )
    return problems


def _path_parts(at: str) -> tuple[str | int, ...]:
    name, _, index = at.partition("[")
    return (name, int(index.rstrip("]")))


def _render_errors(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[str]:
    return [f"{format_loc((*prefix, *err['loc']))}: {err['msg']}" for err in exc.errors()]


def format_loc(loc: tuple[str | int, ...]) -> str:
    """A pydantic error location as a plan-file path: ``items[2].target.options.value_type``."""
    out = ""
    previous: str | int | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif previous == "source" and part in _DISCRIMINATOR_TAGS:
            pass  # the union's tag, not a key of the file
        else:
            out += f".{part}" if out else str(part)
        previous = part
    return out


def options_model(mapping_name: str) -> type[BaseModel]:
    """The Options model of a mapping (PlanError on an unknown name)."""
    return get_mapping(mapping_name).Options
