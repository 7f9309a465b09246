"""Markdown rendering of reports, made to be pasted into pull requests."""

from __future__ import annotations

from pgconsolidate.report.tables import Report, Table


def _cell(text: str) -> str:
    """Escape what would break a pipe table cell (pipes, newlines) and wrap code-like keys safely."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_table(table: Table) -> str:
    """One titled pipe table with its notes as a bullet list."""
    lines = [f"### {table.title}", ""]
    if not table.rows:
        lines.append("_none_")
    else:
        lines.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
        lines.append("|" + "|".join("---" for _ in table.columns) + "|")
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"- {_cell(n)}" for n in table.notes]
    return "\n".join(lines)


def render(report: Report) -> str:
    """A whole report as Markdown: heading, summary bullets, tables."""
    parts = [f"## {report.heading}", ""]
    parts += [f"- {line}" for line in report.summary]
    for table in report.tables:
        parts += ["", render_table(table)]
    return "\n".join(parts) + "\n"
