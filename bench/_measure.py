"""Helpers shared by the benchmarks: service URLs for a scratch database, and measured migrate runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def with_db(url: str, db: int) -> str:
    """The same Redis URL pointing at database ``db``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def with_database(url: str, name: str) -> str:
    """The same PostgreSQL URL pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def vm_hwm(pid: int) -> int:
    """The process's peak RSS in bytes (VmHWM). Unlike getrusage's ru_maxrss it starts afresh at exec,
    so it does not count the benchmark's own (large) memory that the child shares between fork and exec."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass  # the process just exited; the previous reading stands
    return 0


def run_migrate(args: list[str]) -> tuple[dict[str, Any], float, int]:
    """``pgconsolidate migrate ARGS --format json`` as a subprocess, exactly as a user runs it.

    Returns (its JSON report, wall seconds, peak RSS bytes polled every 50 ms); exits the
    benchmark with migrate's stderr when it fails.
    """
    command = [sys.executable, "-m", "pgconsolidate", "migrate", *args, "--format", "json"]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, vm_hwm(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"migrate failed ({proc.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    report: dict[str, Any] = json.loads(stdout)
    return report, wall, peak
