"""Console rendering with rich: tables for reports, progress bars for long work (on stderr)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable
from rich.text import Text

from pgconsolidate.report.tables import Report


def render(report: Report, console: Console) -> None:
    """Print a report as rich tables."""
    console.print(Text(report.heading, style="bold"))
    for line in report.summary:
        console.print(Text(f"  {line}"))
    for table in report.tables:
        rt = RichTable(title=table.title, title_justify="left", show_lines=False)
        for col in table.columns:
            rt.add_column(col, overflow="fold")
        for row in table.rows:
            # Text() so that user data (keys, patterns) is never parsed as rich markup.
            rt.add_row(*(Text(c) for c in row))
        console.print(rt)
        for note in table.notes:
            console.print(Text(f"  - {note}", style="dim"))


class RichProgress:
    """A :class:`~pgconsolidate.progress.ProgressSink` drawing one bar per task on stderr."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def start(self, task: str, total: int | None) -> None:
        """Add a bar for ``task`` (an estimate as total; it grows if exceeded)."""
        self._tasks[task] = self._progress.add_task(task, total=total, rate="")

    def advance(self, task: str, amount: int) -> None:
        """Advance the bar, extending an estimated total that turned out low."""
        tid = self._tasks.get(task)
        if tid is None:
            return
        t = self._progress.tasks[tid]
        if t.total is not None and t.completed + amount > t.total:
            self._progress.update(tid, total=t.completed + amount)
        speed = t.speed or 0.0
        self._progress.update(tid, advance=amount, rate=f"{speed:,.0f}/s" if speed else "")

    def finish(self, task: str) -> None:
        """Mark the task complete (its total becomes what was actually done)."""
        tid = self._tasks.get(task)
        if tid is not None:
            t = self._progress.tasks[tid]
            self._progress.update(tid, total=t.completed)
