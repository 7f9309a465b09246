"""Render a plan's DDL from the mapping templates, check it with sqlglot, apply it in one transaction.

Rendering, printing (``pgconsolidate ddl``) and applying are separate consumers of the same list
of statements, and the list is deterministic: schemas first, then items sorted by id, each in
its template's block order, exact duplicates (e.g. ``CREATE EXTENSION``) kept once.

What the sqlglot check covers: every statement must parse as PostgreSQL. ``CREATE FUNCTION``
parses with its body kept as a string; for ``LANGUAGE sql`` functions the body's statements are
parsed too. Not checked: PL/pgSQL bodies (sqlglot has no PL/pgSQL grammar) and statements
sqlglot only knows as an opaque command (``CREATE EXTENSION``) - those are accepted only from
the short allow-list below. The check catches template mistakes (unbalanced parentheses, a
missing comma, an unquoted name); semantic errors are PostgreSQL's to report at apply time.

Installer steps: a statement that is exactly one comment line ``-- pgconsolidate:install <name> ...``
stands for a packaged install script too long to print (pgmq's SQL-only install: ~2,200 lines).
``pgconsolidate ddl`` prints the line; :func:`apply_ddl` runs the registered installer in its place,
inside the same transaction (the installer guards itself: it skips what is already installed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlglot
from psycopg import sql
from sqlglot import exp
from sqlglot.errors import SqlglotError

from pgconsolidate import templating
from pgconsolidate.errors import PlanError, TargetError
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings._common import ident
from pgconsolidate.mappings.queue_pgmq import install_pgmq_sql
from pgconsolidate.models import Plan, PlanItem, TargetCaps

_OPAQUE_ALLOWED = ("CREATE EXTENSION IF NOT EXISTS",)
"""Statements sqlglot parses only as an opaque Command that we accept unchecked."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

INSTALLER_PREFIX = "-- pgconsolidate:install "
"""How an installer step starts: the prefix, then the installer's name and a description."""

_INSTALLER_LINE = re.compile(r"-- pgconsolidate:install (?P<name>[a-z0-9_]+)(?: [^\n]*)?")

INSTALLERS: dict[str, Callable[[psycopg.Connection[Any]], object]] = {"pgmq": install_pgmq_sql}
"""Installer steps by name: each runs in the DDL transaction and skips what already exists."""


def installer_name(stmt: str) -> str | None:
    """The installer an installer-step statement names (None for ordinary statements).

    TargetError for a line that looks like one but names no registered installer.
    """
    if not stmt.startswith(INSTALLER_PREFIX):
        return None
    match = _INSTALLER_LINE.fullmatch(stmt)
    if match is None or match["name"] not in INSTALLERS:
        raise TargetError(
            f"unknown installer step: {_one_line(stmt)}",
            hint=f"known installers: {', '.join(sorted(INSTALLERS))}",
        )
    return match["name"]


def render_item_ddl(item: PlanItem, caps: TargetCaps | None) -> list[str]:
    """The checked DDL statements of one plan item (empty for items that are not migrated)."""
    if item.verdict != "migrate" or item.target is None:
        return []
    mapping = get_mapping(item.target.mapping)
    statements = templating.render_statements(mapping.name, mapping.template_context(item, caps))
    for stmt in statements:
        check_statement(stmt, what=f"item {item.id}")
    return statements


def sweep_sql(item: PlanItem) -> str:
    """The DELETE of the item's expired rows (the same text the pg_cron job runs)."""
    if item.target is None:
        raise PlanError(f"item {item.id}: has no target to sweep")
    mapping = get_mapping(item.target.mapping)
    stmt = templating.render_block(mapping.name, "sweep", mapping.template_context(item, None))
    check_statement(stmt, what=f"item {item.id}")
    return stmt


def sweep_statements(plan: Plan) -> list[tuple[str, sql.SQL]]:
    """``(schema.table, DELETE of expired rows)`` for every migrated item, sorted by item id.

    Every mapping whose template has a ``sweep`` block has ``expires_at``, so sweeping is always
    correct; items planned with ``cleanup: none`` simply have nothing to delete. Mappings without
    expiring rows (queues, DDL-only constructs) have no ``sweep`` block and are skipped.
    """
    out: list[tuple[str, sql.SQL]] = []
    for item in sorted(plan.migratable(), key=lambda it: it.id):
        assert item.target is not None
        if not templating.has_block(item.target.mapping, "sweep"):
            continue
        # The text comes from our template with psycopg-quoted names: safe to wrap as SQL.
        stmt = sql.SQL(sweep_sql(item))
        out.append((f"{item.target.schema_name}.{item.target.table}", stmt))
    return out


def render_plan_ddl(plan: Plan, caps: TargetCaps | None = None) -> list[str]:
    """Every statement the plan needs: ``CREATE SCHEMA`` for non-public schemas, then each item's DDL."""
    items = sorted(plan.migratable(), key=lambda it: it.id)
    schemas = sorted({it.target.schema_name for it in items if it.target and it.target.schema_name != "public"})
    out: list[str] = []
    seen: set[str] = set()
    for schema in schemas:
        stmt = f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}"
        check_statement(stmt, what=f"schema {schema}")
        out.append(stmt)
    for item in items:
        for stmt in render_item_ddl(item, caps):
            if stmt not in seen:
                seen.add(stmt)
                out.append(stmt)
    return out


def check_statement(stmt: str, *, what: str) -> None:
    """Parse ``stmt`` as PostgreSQL with sqlglot; TargetError naming ``what`` and the statement.

    An installer step (see the module docstring) is accepted when it names a registered installer.
    """
    try:
        if installer_name(stmt) is not None:
            return
    except TargetError as exc:
        raise TargetError(f"{what}: {exc.message}", hint=exc.hint) from None
    with _quiet_sqlglot():
        try:
            tree = sqlglot.parse_one(stmt, read="postgres")
        except SqlglotError as exc:
            raise _parse_failure(what, stmt, exc) from None
        if isinstance(tree, exp.Command) and not stmt.upper().startswith(_OPAQUE_ALLOWED):
            raise TargetError(f"{what}: sqlglot cannot check this statement: {_one_line(stmt)}")
        body = _sql_function_body(tree)
        if body is not None:
            try:
                parsed = sqlglot.parse(body, read="postgres")
            except SqlglotError as exc:
                raise _parse_failure(what, stmt, exc) from None
            if not any(p is not None for p in parsed) or any(isinstance(p, exp.Command) for p in parsed):
                raise TargetError(f"{what}: function body does not parse as SQL: {_one_line(stmt)}")


def apply_ddl(conn: psycopg.Connection[object], statements: Sequence[str]) -> int:
    """Run ``statements`` in one transaction (all or nothing); return how many ran.

    A failure rolls everything back and raises TargetError with PostgreSQL's message and the statement.
    An installer step runs its installer in the same transaction (and counts as one statement).
    """
    done = 0
    try:
        with conn.transaction():
            for stmt in statements:
                try:
                    installer = installer_name(stmt)
                    if installer is not None:
                        INSTALLERS[installer](conn)
                    else:
                        conn.execute(stmt.encode("utf-8"))
                except psycopg.Error as exc:
                    msg = _one_line(exc.diag.message_primary or str(exc))
                    raise TargetError(f"DDL failed: {msg}: {_one_line(stmt)}") from None
                done += 1
    except psycopg.Error as exc:  # commit failure, connection lost
        raise TargetError(f"DDL transaction failed: {_one_line(str(exc))}") from None
    return done


def _sql_function_body(tree: exp.Expr | None) -> str | None:
    """The body of a ``CREATE FUNCTION .. LANGUAGE sql AS $$..$$``, else None."""
    if not isinstance(tree, exp.Create) or str(tree.args.get("kind", "")).upper() != "FUNCTION":
        return None
    lang = tree.find(exp.LanguageProperty)
    body = tree.args.get("expression")
    if lang is None or lang.name.lower() != "sql" or not isinstance(body, exp.Heredoc):
        return None
    return str(body.this)


def _parse_failure(what: str, stmt: str, exc: SqlglotError) -> TargetError:
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        reason = f"{first.get('description')} at line {first.get('line')}, column {first.get('col')}"
    else:
        reason = _one_line(_ANSI.sub("", str(exc)))
    return TargetError(f"{what}: generated SQL does not parse ({reason}): {_one_line(stmt)}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for every opaque Command; we decide about those ourselves."""
    logger = logging.getLogger("sqlglot")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
