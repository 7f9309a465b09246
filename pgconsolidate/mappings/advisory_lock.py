"""``advisory_lock``: Redis locks (``SET key token NX PX ttl``) -> PostgreSQL advisory-lock helpers.

Nothing is copied (``copies_data = False``): a lock key only means "a live process holds this
right now", and that process holds it in Redis, not in PostgreSQL. Switch the application over
when no process holds a Redis lock (drain, or stop the workers), otherwise one process may hold
the Redis lock while another takes the PostgreSQL one.

The template creates three functions, named after ``target.table`` (used as the function-name
prefix: no table is created), over ``hashtextextended(lock_name, 0)`` (a 64-bit lock id; lock
names that collide on it would share a lock, at odds of about 1 in 2^64 per pair):

* ``<name>_try(lock_name)`` - ``pg_try_advisory_lock``: session-level, held until
  ``<name>_release(lock_name)`` or until the session ends; re-entrant (take it twice, release twice);
* ``<name>_try_xact(lock_name)`` - ``pg_try_advisory_xact_lock``: released at COMMIT/ROLLBACK,
  the closest equivalent of a TTL lock (work inside one transaction, no release to forget);
* ``<name>_release(lock_name)`` - ``pg_advisory_unlock``: true when this session held the lock.

Differences from the Redis lock:

* no TTL: a lock lasts as long as its session (or transaction). A crashed process releases its
  locks when its connection drops (PostgreSQL ends the backend), so no expiry is needed for
  crashes; but a hung process that keeps its connection keeps the lock - set
  ``idle_in_transaction_session_timeout`` / ``statement_timeout`` where that matters;
* no owner token: the session owns the lock, so the compare-and-delete Lua release is not needed;
* through a transaction-mode pooler (PgBouncer ``pool_mode=transaction``) session locks land on
  whatever server connection the pooler picked: use the ``_xact`` variant there.

A lease that must outlive connections (a lock taken by one process and released by another, or a
lock that must survive a reconnect) needs a table instead::

    CREATE TABLE lease (name text PRIMARY KEY, token text NOT NULL, expires_at timestamptz NOT NULL);
    -- acquire (returns a row when acquired):
    INSERT INTO lease AS l VALUES ($1, $2, now() + $3 * interval '1 ms')
    ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
    WHERE l.expires_at <= now() RETURNING token;
    -- release (only the owner):  DELETE FROM lease WHERE name = $1 AND token = $2;
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from pgconsolidate.mappings import _common as c
from pgconsolidate.models import KeyPattern, PlanItem, TargetCaps, Usage

LEASE_RECIPE = (
    "a lock that must outlive its connection needs a lease table instead: (name text PRIMARY KEY, token text, "
    "expires_at timestamptz); acquire with INSERT .. ON CONFLICT (name) DO UPDATE .. WHERE expires_at <= now() "
    "RETURNING token (a row back = acquired), release with DELETE .. WHERE name = $1 AND token = $2"
)
"""The lease-table guidance, shared by the plan notes and the docs."""


class AdvisoryLockOptions(c.OptionsBase):
    """``target.options`` of an ``advisory_lock`` item: none (strict, so a typo is still reported)."""


class AdvisoryLock(c.DdlOnlyMapping):
    """Redis ``SET NX PX`` locks as PostgreSQL advisory-lock helper functions; nothing is copied."""

    name: ClassVar[str] = "advisory_lock"
    redis_types: ClassVar[frozenset[str]] = frozenset({"string"})
    Options: ClassVar[type[BaseModel]] = AdvisoryLockOptions
    copies_data: ClassVar[bool] = False
    no_data_reason: ClassVar[str] = "locks are held by live processes"
    """Locks are transient and held by live processes: the copy engine and verify skip this mapping."""

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/advisory_lock.sql.j2``: the three quoted function names."""
        c.parse_options(AdvisoryLockOptions, item)
        t = c.target_of(item)
        ctx = {
            **c.common_context(item, caps),
            "try_function": c.ident(t.schema_name, c.derived_name(t.table, "_try")),
            "try_xact_function": c.ident(t.schema_name, c.derived_name(t.table, "_try_xact")),
            "release_function": c.ident(t.schema_name, c.derived_name(t.table, "_release")),
        }
        ctx["body_tag"] = c.dollar_tag(ctx["try_function"], ctx["try_xact_function"], ctx["release_function"])
        return ctx


def plan_options(facts: KeyPattern, usage: Usage, caps: TargetCaps) -> c.PlanChoice:
    """Verdict, reason and guidance notes for keys classified as locks (``caps`` is not needed:
    advisory locks and ``hashtextextended`` exist on every supported PostgreSQL)."""
    who = f" ({usage.library})" if usage.library else ""
    if facts.redis_type != "string":
        return c.PlanChoice(
            "review",
            f"lock keys{who} are Redis {facts.redis_type}s (e.g. Redisson's re-entrant hash locks), not SET NX PX "
            "strings: check how the lock is taken before replacing it with advisory locks",
            {},
            [],
        )
    p50 = facts.ttl.p50_seconds
    ttl = f"TTL p50 {p50:,.1f}s" if p50 is not None else "no TTL seen"
    live = f"{facts.estimated_keys:,} live lock key{'s' if facts.estimated_keys != 1 else ''}"
    reason = (
        f"{live}{who} seen ({ttl}): locks are held by running processes, so nothing is copied; "
        "<name>_try / <name>_try_xact / <name>_release wrap PostgreSQL advisory locks"
    )
    notes = [
        f"{live} were held at analyze time ({ttl}); switch the application over when none is held "
        "(drain the workers), or a Redis holder and a PostgreSQL holder could run at once",
        "no TTL: a session-level lock (<name>_try) is held until <name>_release or until the session ends - a "
        "crashed process releases it when its connection drops; <name>_try_xact releases at COMMIT/ROLLBACK, "
        "the closest to a lock with a TTL (and the one to use behind a transaction-mode pooler)",
        "no owner token needed: the session owns the lock, so the compare-and-delete release script goes away",
        LEASE_RECIPE,
    ]
    if facts.ttl.without_ttl:
        notes.append(
            f"{facts.ttl.without_ttl} of {facts.ttl.with_ttl + facts.ttl.without_ttl} sampled lock keys have no "
            "TTL: in Redis they stay locked until deleted; with advisory locks they end with their session"
        )
    return c.PlanChoice("migrate", reason, {}, notes)
