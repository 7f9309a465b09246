"""The mapping registry: one instance of every mapping, in an explicit order.

A mapping's ``name`` is its template (``templates/<name>.sql.j2``), its value in the plan file
(``target.mapping``), its golden file (``tests/unit/golden/<name>.sql``) and its integration
round trip (``tests/integration/test_roundtrip_<name>.py``); a guard test checks all four.
"""

from __future__ import annotations

import difflib

from pgconsolidate.errors import PlanError
from pgconsolidate.mappings.advisory_lock import AdvisoryLock
from pgconsolidate.mappings.base import Canonical, Mapping, SourceRecord
from pgconsolidate.mappings.counter import Counter
from pgconsolidate.mappings.es_index import EsIndex
from pgconsolidate.mappings.hash_jsonb import HashJsonb
from pgconsolidate.mappings.kv_table import KvTable
from pgconsolidate.mappings.leaderboard import Leaderboard
from pgconsolidate.mappings.notify_channel import NotifyChannel
from pgconsolidate.mappings.queue_pgmq import QueuePgmq
from pgconsolidate.mappings.rate_limit import RateLimit
from pgconsolidate.mappings.set_members import SetMembers
from pgconsolidate.mappings.stream_table import StreamTable

MAPPINGS: tuple[Mapping, ...] = (
    KvTable(),
    HashJsonb(),
    Counter(),
    RateLimit(),
    SetMembers(),
    Leaderboard(),
    QueuePgmq(),
    StreamTable(),
    NotifyChannel(),
    AdvisoryLock(),
    EsIndex(),
)
"""Every mapping of this release, in display order."""

_BY_NAME: dict[str, Mapping] = {m.name: m for m in MAPPINGS}


def mapping_names() -> list[str]:
    """Names of all registered mappings, in registry order."""
    return [m.name for m in MAPPINGS]


def get_mapping(name: str) -> Mapping:
    """The mapping called ``name``; PlanError suggesting the closest name on a typo."""
    try:
        return _BY_NAME[name]
    except KeyError:
        pass
    close = difflib.get_close_matches(name, list(_BY_NAME), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else f"known mappings: {', '.join(_BY_NAME)}"
    raise PlanError(f"unknown mapping '{name}'; {hint}")


__all__ = ["MAPPINGS", "Canonical", "Mapping", "SourceRecord", "get_mapping", "mapping_names"]
