"""Integration: ``analyze --observe N`` measures real command rates while traffic runs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import redis
from typer.testing import CliRunner

from pgconsolidate import commands
from pgconsolidate.analyze.thresholds import MAX_INCR_PER_SEC, keep_reason
from pgconsolidate.cli import app
from pgconsolidate.models import CommandRate, Inventory, UsageKind


class _IncrLoad:
    """A background thread INCRing counters on the test database until stopped."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.stop = threading.Event()
        self.calls = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            pipe = self.client.pipeline(transaction=False)
            for i in range(50):
                pipe.execute_command("INCR", f"stats:hits:{i}")  # type: ignore[no-untyped-call]  # redis-py's incr() sends INCRBY
            pipe.execute()
            self.calls += 50

    def __enter__(self) -> _IncrLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.client.close()


def test_observe_records_incr_rate_via_cli(redis_url: str, tmp_path: Path) -> None:
    out = tmp_path / "inventory.json"
    with _IncrLoad(redis_url) as load:
        result = CliRunner().invoke(
            app, ["analyze", "--redis", redis_url, "--observe", "2", "-o", str(out), "--format", "json"]
        )
    assert result.exit_code == 0, result.output
    assert load.calls > 0
    inv = Inventory.model_validate(json.loads(out.read_text()))
    assert inv.redis is not None
    observed = inv.redis.server.observed
    assert observed is not None
    assert observed.seconds >= 2.0
    incr = observed.commands["incr"]
    assert incr.calls_per_sec > 0
    assert incr.usec_per_call > 0
    # the load thread's INCRs are what moved the counter: at most what it sent in the window
    assert incr.calls_per_sec * observed.seconds <= load.calls
    assert observed.total_calls_per_sec >= incr.calls_per_sec

    # the counters written meanwhile are classified, and the measured rate is far below "keep"
    server = inv.redis.server
    assert keep_reason(UsageKind.COUNTER, server) is None
    # the same inventory with the observed INCR rate scaled past the threshold must say keep, with numbers
    factor = (MAX_INCR_PER_SEC * 1.5) / incr.calls_per_sec
    hot = observed.commands | {
        "incr": CommandRate(calls_per_sec=incr.calls_per_sec * factor, usec_per_call=incr.usec_per_call)
    }
    hot_server = server.model_copy(update={"observed": observed.model_copy(update={"commands": hot})})
    reason = keep_reason(UsageKind.COUNTER, hot_server)
    assert reason is not None
    assert "INCR 1.5M/s" in reason
    assert f"observed over {observed.seconds:g} s" in reason
    assert keep_reason(UsageKind.CACHE, hot_server) is None


def test_observe_off_by_default_and_api(redis_url: str, redis_client: redis.Redis) -> None:
    redis_client.set("k", "v")
    inv = commands.analyze(redis_url, sample=100)
    assert inv.redis is not None
    assert inv.redis.server.observed is None
    assert inv.redis.server.uptime_seconds > 0  # the lifetime fallback has its window

    with _IncrLoad(redis_url):
        observed_inv = commands.analyze(redis_url, sample=100, observe=1)
    assert observed_inv.redis is not None and observed_inv.redis.server.observed is not None
    assert observed_inv.redis.server.observed.commands["incr"].calls_per_sec > 0
