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


def test_observe_measures_pubsub_payload_sizes_and_plans_notify(redis_url: str, pg_url: str) -> None:
    """A live channel is subscribed for the window: its largest payload decides LISTEN/NOTIFY or keep."""
    client = redis.Redis.from_url(redis_url)
    listeners = [client.pubsub() for _ in range(2)]
    listeners[0].subscribe("orders:created")
    listeners[1].subscribe("blobs:uploaded")
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            client.publish("orders:created", json.dumps({"order": 1, "total": 12.5}))
            client.publish("blobs:uploaded", "x" * 9000)
            stop.wait(0.05)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        inv = commands.analyze(redis_url, sample=100, observe=1.5)
    finally:
        stop.set()
        publisher.join()
        for listener in listeners:
            listener.close()
        client.close()
    assert inv.redis is not None
    channels = {c.channel: c for c in inv.redis.channels}
    small, big = channels["orders:created"], channels["blobs:uploaded"]
    assert small.messages_observed > 0 and small.max_payload_bytes == len(json.dumps({"order": 1, "total": 12.5}))
    assert big.messages_observed > 0 and big.max_payload_bytes == 9000

    plan = commands.make_plan(inv, pg_url)
    verdicts = {it.source.channel: it for it in plan.items if it.source.kind == "redis_channel"}
    assert verdicts["orders:created"].verdict == "migrate"
    assert verdicts["orders:created"].target is not None
    assert verdicts["orders:created"].target.mapping == "notify_channel"
    assert verdicts["blobs:uploaded"].verdict == "keep" and "9,000" in verdicts["blobs:uploaded"].reason
