"""The Jinja2 environment for ``templates/<mapping>.sql.j2`` and the statement-block convention.

A mapping template is a sequence of named blocks. Blocks named ``ddl_*`` are DDL statements, one
statement each, applied in template order (empty ones are skipped, so a block may be
conditional). Other blocks are named queries fetched on demand (``sweep``: the DELETE of expired
rows, reused verbatim by the pg_cron job). Rendering blocks instead of splitting on ``;`` keeps
function bodies intact.

Templates receive identifiers and literals already quoted by psycopg; the ``literal`` filter is
the only way a template turns text into a SQL string literal.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from psycopg import sql

DDL_BLOCK_PREFIX = "ddl_"
CRON_BLOCK_PREFIX = "cron_"
MANY_BLOCK_MARK = "many_"
"""A block named ``<prefix>many_*`` may render several statements, one per part between sentinel lines."""
STATEMENT_SENTINEL = "-- pgc:statement"
"""The line that ends one statement of a ``*_many_*`` block (a variable number of statements, e.g. indexes)."""


def templates_dir() -> Path:
    """The wheel's ``pgconsolidate/templates`` when installed, else the repository's ``templates/``."""
    packaged = Path(__file__).resolve().parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def _literal(value: Any) -> str:
    return sql.Literal(str(value)).as_string(None).strip()


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment: strict undefined variables, no HTML escaping, tidy whitespace."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["literal"] = _literal
    return env


def template_name(mapping: str) -> str:
    """The template file of a mapping."""
    return f"{mapping}.sql.j2"


def _render(template: jinja2.Template, block: str, context: dict[str, Any]) -> str:
    return _tidy("".join(template.blocks[block](template.new_context(context))))


def _tidy(text: str) -> str:
    # Drop blank lines left by conditionals; keep the statement's own indentation.
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def _render_many(template: jinja2.Template, block: str, context: dict[str, Any]) -> list[str]:
    """The statements of a ``*_many_*`` block: its text split on :data:`STATEMENT_SENTINEL` lines."""
    text = "".join(template.blocks[block](template.new_context(context)))
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == STATEMENT_SENTINEL:
            parts.append([])
        else:
            parts[-1].append(line)
    return [stmt for part in parts if (stmt := _tidy("\n".join(part)))]


def render_statements(mapping: str, context: dict[str, Any], prefix: str = DDL_BLOCK_PREFIX) -> list[str]:
    """The mapping's statements in blocks named ``<prefix>*`` (template order, empty ones dropped).

    ``ddl_*`` blocks run in the target database; ``cron_*`` blocks (pg_cron scheduling) run in
    pg_cron's own database (``cron.database_name``), the only one where the extension can live.
    A ``<prefix>many_*`` block renders any number of statements, each ended by a
    :data:`STATEMENT_SENTINEL` line (empty parts dropped); every other block is one statement.
    """
    template = environment().get_template(template_name(mapping))
    out = []
    for block in template.blocks:
        if block.startswith(prefix + MANY_BLOCK_MARK):
            out.extend(_render_many(template, block, context))
        elif block.startswith(prefix):
            stmt = _render(template, block, context)
            if stmt:
                out.append(stmt)
    return out


def has_block(mapping: str, block: str) -> bool:
    """True when the mapping's template defines ``block`` (e.g. ``sweep``: only tables with expiries)."""
    return block in environment().get_template(template_name(mapping)).blocks


def render_block(mapping: str, block: str, context: dict[str, Any]) -> str:
    """One named block of the mapping's template (KeyError when the template lacks it)."""
    template = environment().get_template(template_name(mapping))
    if block not in template.blocks:
        raise KeyError(f"{template_name(mapping)} has no block '{block}'")
    return _render(template, block, context)
