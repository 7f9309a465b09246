"""Renderers: the same report as Markdown and rich tables, user data never parsed as markup."""

from __future__ import annotations

import io

from rich.console import Console

from pgconsolidate.models import ItemCopyResult, ItemParity, MigrateReport, Mismatch, ParityReport
from pgconsolidate.report import console, markdown
from pgconsolidate.report.fmt import human_bytes, human_seconds, top_shapes
from pgconsolidate.report.tables import migrate_report, parity_report


def _parity(bad: bool) -> ParityReport:
    counts = {"missing": 0, "extra": 0, "type": 0, "value": 1 if bad else 0, "ttl": 0}
    mismatches = [Mismatch(key="user:|1|[b]x[/b]", kind="value", detail="fields differ", source_value="<redacted>")]
    return ParityReport(
        plan="plans/app.yaml",
        target=None,
        seed=7,
        full=False,
        items=[
            ItemParity(
                item_id="redis.db0.user-id",
                table="public.redis_user",
                source_count=10,
                target_count=10,
                checked=10,
                mismatch_counts=counts,
                mismatches=mismatches if bad else [],
            )
        ],
    )


def test_parity_markdown_ok_and_failed() -> None:
    ok = markdown.render(parity_report(_parity(False)))
    assert "OK: 1/1 items match (sampled, seed 7)" in ok
    assert "Mismatch examples" not in ok
    bad = markdown.render(parity_report(_parity(True)))
    assert "FAILED: 0/1 items match" in bad
    # pipes inside keys are escaped so the table keeps its columns
    assert "user:\\|1\\|[b]x[/b]" in bad
    header = next(line for line in bad.splitlines() if line.startswith("| id | table | source"))
    assert header.count("|") == 12


def test_console_does_not_interpret_markup_in_keys() -> None:
    buf = io.StringIO()
    console.render(parity_report(_parity(True)), Console(file=buf, width=200, color_system=None))
    text = buf.getvalue()
    assert "[b]x[/b]" in text


def test_migrate_report_rates() -> None:
    rep = MigrateReport(
        plan="p.yaml",
        target="postgresql://u:***@h/db",
        ddl_statements=4,
        items=[ItemCopyResult(item_id="a", table="public.t", mode="copy", keys=1000, rows=1000, seconds=0.5)],
        seconds=0.6,
    )
    md = markdown.render(migrate_report(rep))
    assert "| a | public.t | copy | 1,000 | 1,000 | 2,000 | 0 | 0.50 |" in md
    assert "4 DDL statements applied" in md


def test_fmt_helpers() -> None:
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(None) == "-"
    assert human_seconds(1800) == "30m"
    assert human_seconds(3 * 86400) == "3.0d"
    assert top_shapes({"json_object": 98, "empty": 2}) == "json_object 98%, empty 2%"
