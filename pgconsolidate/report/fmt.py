"""Small, pure formatting helpers shared by the console and Markdown renderers."""

from __future__ import annotations

from pgconsolidate.models import Usage

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: float | None) -> str:
    """``1536`` -> ``1.5 KiB``; None -> ``-``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_seconds(s: float | None) -> str:
    """``5400`` -> ``1.5h``; None -> ``-``."""
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def human_count(n: int | float) -> str:
    """Thousands separators: ``1234567`` -> ``1,234,567``."""
    return f"{n:,.0f}"


def percent(part: float, whole: float) -> str:
    """``part/whole`` as a whole percentage, ``-`` when whole is 0."""
    return f"{100 * part / whole:.0f}%" if whole else "-"


def top_shapes(shapes: dict[str, int], limit: int = 2) -> str:
    """The most common value shapes, e.g. ``json_object 98%, empty 2%``."""
    total = sum(shapes.values())
    ranked = sorted(shapes.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return ", ".join(f"{name} {percent(count, total)}" for name, count in ranked) or "-"


def usage_label(usage: Usage) -> str:
    """``session (0.90)``, or ``queue (0.97, RQ)`` when the key layout is a known library's."""
    if usage.library:
        return f"{usage.kind.value} ({usage.confidence:.2f}, {usage.library})"
    return f"{usage.kind.value} ({usage.confidence:.2f})"


def mismatch_total(counts: dict[str, int]) -> int:
    """Sum of all mismatch kinds."""
    return sum(counts.values())
