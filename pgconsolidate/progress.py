"""Progress reporting interface used by long-running work (copy, verify, sampling).

The engines report through this small protocol so they never import rich; the CLI passes a
rich-backed implementation, the Python API and tests pass nothing (:class:`NullProgress`).
"""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    """Receives progress events for named tasks (one task per plan item or phase)."""

    def start(self, task: str, total: int | None) -> None:
        """A task begins; ``total`` is an estimate (None when unknown)."""
        ...

    def advance(self, task: str, amount: int) -> None:
        """``amount`` more units of the task are done."""
        ...

    def finish(self, task: str) -> None:
        """The task is complete."""
        ...


class NullProgress:
    """A sink that ignores every event."""

    def start(self, task: str, total: int | None) -> None:
        """Ignore."""

    def advance(self, task: str, amount: int) -> None:
        """Ignore."""

    def finish(self, task: str) -> None:
        """Ignore."""
