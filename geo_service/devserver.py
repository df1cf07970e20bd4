"""The service in a child process on loopback, for tests and benchmarks that need real HTTP
(GDAL, a browser, concurrent clients, a database that goes away under a running server)."""

from __future__ import annotations

import ctypes
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dies_with_parent() -> None:
    """A ``preexec_fn``: the child is sent SIGTERM when this process ends, however it ends
    (Linux's ``PR_SET_PDEATHSIG``). A benchmark killed mid-run left its server running old
    code against a dropped database, writing to the log of the next run."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except AttributeError:  # not Linux: the caller's ``finally`` is all there is
        return
    if os.getppid() != parent:  # the parent was gone before the signal was asked for
        os._exit(1)


@contextmanager
def running_server(
    database_url: str,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    access_log: Path | None = None,
) -> Iterator[str]:
    """The service as ``geo-service serve`` runs it (``geo_service.server.run``), on
    127.0.0.1 and a free port; yields its base URL once ``/healthz`` answers at all (a 503
    counts: the server is up), stops it after.

    With ``access_log``, uvicorn's log (a line per request, its query string included) is
    written to that file: what a client really asked for (GDAL's pushed-down filters).
    """
    port = free_port()
    output = access_log.open("ab") if access_log else None
    process = subprocess.Popen(
        [sys.executable, "-m", "geo_service.server", *([] if access_log else ["--quiet"])],
        env={
            **os.environ,
            "GEO_SERVICE_DATABASE_URL": database_url,
            "GEO_SERVICE_HOST": "127.0.0.1",
            "GEO_SERVICE_PORT": str(port),
            "GEO_SERVICE_WORKERS": str(workers),
            **(env or {}),
        },
        stdout=output,
        stderr=output,
        preexec_fn=dies_with_parent,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server on port {port} did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if output:
            output.close()


def admin_token(engine: Engine, label: str) -> str:
    """A two-hour admin API token for a client of such a server (a benchmark), made the
    project's way (as ``geo-service token create --role admin`` does, audited)."""
    from geo_service import auth
    from geo_service.access import local_operator

    with engine.begin() as conn:
        return auth.create_token(
            conn,
            "admin",
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
            label=label,
            by=local_operator(),
        ).secret
