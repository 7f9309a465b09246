"""Keep thresholds over observed or lifetime command rates (pure, no services)."""

from __future__ import annotations

import pytest

from pgconsolidate.analyze.sampler import rates_between
from pgconsolidate.analyze.thresholds import (
    MAX_BLOCKED_CLIENTS,
    command_rates,
    human_rate,
    keep_reason,
)
from pgconsolidate.models import CommandRate, CommandStat, ObservedRates, RedisServerInfo, UsageKind

K = UsageKind


def observed(seconds: float = 10.0, **per_sec: float) -> RedisServerInfo:
    """Server info with ``analyze --observe`` rates."""
    commands = {c: CommandRate(calls_per_sec=r, usec_per_call=1.0) for c, r in per_sec.items()}
    return RedisServerInfo(
        redis_version="7.0.15",
        observed=ObservedRates(seconds=seconds, total_calls_per_sec=sum(per_sec.values()), commands=commands),
    )


def lifetime(uptime: int, **calls: int) -> RedisServerInfo:
    """Server info with lifetime commandstats only."""
    return RedisServerInfo(
        redis_version="7.0.15",
        uptime_seconds=uptime,
        commandstats={c: CommandStat(calls=n, usec=n) for c, n in calls.items()},
    )


def test_hot_counters_keep_with_numbers() -> None:
    reason = keep_reason(K.COUNTER, observed(incr=1_200_000, incrby=200_000, get=5000))
    assert reason is not None
    assert "1.4M increments/s" in reason
    assert "INCR 1.2M/s" in reason and "INCRBY 200.0k/s" in reason
    assert "observed over 10 s" in reason
    assert "50-100k/s" in reason
    assert keep_reason(K.RATE_LIMIT, observed(incr=1_200_000, incrby=200_000)) is not None


def test_thresholds_are_strict_and_per_kind() -> None:
    assert keep_reason(K.COUNTER, observed(incr=1_000_000)) is None  # "> 1M", not ">="
    assert keep_reason(K.COUNTER, observed(incr=900_000)) is None
    busy = observed(incr=5_000_000, zadd=500_000, publish=100_000, brpop=30_000, xadd=60_000, get=10_000_000)
    assert keep_reason(K.CACHE, busy) is None  # no cache threshold; heavy traffic of other kinds is not its reason
    assert keep_reason(K.LEADERBOARD, busy) is not None
    assert keep_reason(K.PUBSUB, busy) is not None
    assert keep_reason(K.QUEUE, busy) is not None
    assert keep_reason(K.STREAM, busy) is not None
    assert keep_reason(K.LEADERBOARD, observed(zadd=99_000)) is None
    assert keep_reason(K.PUBSUB, observed(publish=49_000)) is None


def test_heavy_lua_applies_to_every_kind() -> None:
    share = observed(evalsha=400, get=600)  # 40% of calls, low absolute rate
    reason = keep_reason(K.CACHE, share)
    assert reason is not None and "heavy Lua" in reason and "40% of all calls" in reason
    rate = observed(evalsha=12_000, get=1_000_000)  # 1% share but > 10k/s
    assert keep_reason(K.OBJECT_HASH, rate) is not None
    assert keep_reason(K.CACHE, observed(evalsha=100, get=1_000_000)) is None


def test_lifetime_average_when_not_observed() -> None:
    server = lifetime(1000, incr=2_000_000_000)  # 2M/s over 1000 s
    reason = keep_reason(K.COUNTER, server)
    assert reason is not None
    assert "2.0M increments/s" in reason
    assert "lifetime commandstats averaged over 16.7 min of uptime" in reason
    assert "--observe" in reason
    rates = command_rates(server)
    assert rates is not None and rates.per_sec["incr"] == pytest.approx(2_000_000)


def test_observed_wins_over_lifetime() -> None:
    server = lifetime(1000, incr=2_000_000_000).model_copy(update={"observed": observed(incr=10).observed})
    assert keep_reason(K.COUNTER, server) is None


def test_no_rates_no_verdict() -> None:
    assert command_rates(RedisServerInfo(redis_version="7.0.15")) is None
    assert keep_reason(K.COUNTER, RedisServerInfo(redis_version="7.0.15")) is None
    no_uptime = RedisServerInfo(redis_version="7.0.15", commandstats={"incr": CommandStat(calls=10**12, usec=1)})
    assert keep_reason(K.COUNTER, no_uptime) is None


def test_blocked_clients_keep_queues() -> None:
    many = RedisServerInfo(redis_version="7.0.15", blocked_commands={"brpop": MAX_BLOCKED_CLIENTS + 1})
    reason = keep_reason(K.QUEUE, many)
    assert reason is not None and f"{MAX_BLOCKED_CLIENTS + 1:,} clients are blocked" in reason
    assert keep_reason(K.QUEUE, many.model_copy(update={"blocked_commands": {"brpop": 3}})) is None
    assert keep_reason(K.COUNTER, many) is None


def test_rates_between_snapshots() -> None:
    before = {"incr": CommandStat(calls=1000, usec=2000), "get": CommandStat(calls=50, usec=50)}
    after = {
        "incr": CommandStat(calls=21_000, usec=42_000),
        "get": CommandStat(calls=50, usec=50),  # idle: left out
        "set": CommandStat(calls=10, usec=30),  # new since the first read
        "del": CommandStat(calls=0, usec=0),
    }
    rates = rates_between(before, after, 2.0)
    assert set(rates.commands) == {"incr", "set"}
    assert rates.commands["incr"] == CommandRate(calls_per_sec=10_000.0, usec_per_call=2.0)
    assert rates.commands["set"].calls_per_sec == 5.0
    assert rates.total_calls_per_sec == 10_005.0
    # CONFIG RESETSTAT between the reads: counters went backwards -> no negative rates
    reset = rates_between(after, before, 2.0)
    assert "incr" not in reset.commands


@pytest.mark.parametrize(
    ("value", "text"), [(1_400_000, "1.4M"), (12_500, "12.5k"), (42, "42"), (0.5, "0.5"), (1000, "1.0k")]
)
def test_human_rate(value: float, text: str) -> None:
    assert human_rate(value) == text
