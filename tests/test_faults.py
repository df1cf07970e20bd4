"""Faults: the database goes away under a running server, and an import is killed half-way.

Both run against a cluster of their own (``.geo_service/test-fault-cluster``, port 54460),
so stopping it disturbs no one else's tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

from geo_service.cluster import OWNER, EmbeddedCluster
from geo_service.database import fresh_database, make_engine
from geo_service.demo import build_demo_district, load_demo
from geo_service.devserver import running_server
from geo_service.settings import _default_home
from tests.accounts import issue_token

PORT = 54460
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    home = _default_home() / "test-fault-cluster"
    shutil.rmtree(home, ignore_errors=True)
    cluster = EmbeddedCluster(home, PORT)
    cluster.up()
    yield cluster
    cluster.down()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def fault_url(cluster: EmbeddedCluster) -> str:
    """A migrated database holding the demo district, in the fault cluster."""
    url = fresh_database("faults", cluster.url("faults", role=OWNER))
    engine = make_engine(url, pool_size=1)
    load_demo(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def fault_engine(fault_url: str) -> Iterator[Engine]:
    engine = make_engine(fault_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def server(fault_url: str, tmp_path: Path) -> Iterator[str]:
    """``uvicorn`` on loopback against the fault database; its base URL."""
    with running_server(fault_url, env={"GEO_SERVICE_HOME": str(tmp_path)}) as base:
        yield base


def test_database_restart_gives_503_then_the_same_server_recovers(
    cluster: EmbeddedCluster, fault_engine: Engine, server: str
) -> None:
    token = {"Authorization": f"Bearer {issue_token(fault_engine, 'admin')}"}
    pid = httpx.get(server + "/healthz").status_code
    assert pid == 200
    assert httpx.get(server + "/api/sites", headers=token).status_code == 200

    tile = server + "/ogc/tiles/WebMercatorQuad/15/27311/13490"
    cached = _until_header(tile, token, "hit")
    assert cached == "hit", cached

    fault_engine.dispose()
    cluster.down()
    try:
        # A cached tile is not served while changes could go unheard.
        for path in ("/api/sites", "/api/sites/HF-2024-01/impact", "/healthz", tile[len(server) :]):
            down = httpx.get(server + path, headers=token, timeout=30)
            assert down.status_code == 503, (path, down.text)
            assert "database" in down.json()["detail"], down.text
    finally:
        cluster.up()

    for _ in range(20):  # the pool notices the restart on its next checkout (pre-ping)
        answer = httpx.get(server + "/api/sites", headers=token, timeout=30)
        if answer.status_code == 200:
            break
        time.sleep(0.5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["features"]
    assert httpx.get(server + "/healthz").status_code == 200
    # The tile cache listens again by itself, and caches again.
    assert _until_header(tile, token, "hit", seconds=30) == "hit"


def test_requests_in_flight_when_the_database_stops_get_503(
    cluster: EmbeddedCluster, fault_engine: Engine, server: str
) -> None:
    """Issue 11: requests that were waiting on the database when it stopped got 500 or a
    dropped connection. Each now gets the same 503 as one that arrives after."""
    token = {"Authorization": f"Bearer {issue_token(fault_engine, 'admin')}"}
    paths = [
        "/api/sites",
        "/api/sites/HF-01/households",
        "/api/sites/HF-01/households?format=csv",
        "/ogc/collections/sites/items",
        "/maps/overview",
    ]
    holder = fault_engine.connect()
    holder.begin()
    holder.execute(text("LOCK TABLE sites IN ACCESS EXCLUSIVE MODE"))
    try:
        with ThreadPoolExecutor(len(paths)) as pool:
            pending = [pool.submit(httpx.get, server + p, headers=token, timeout=60) for p in paths]
            deadline = time.monotonic() + 30
            while _waiting_on_locks(fault_engine) < len(paths):
                assert time.monotonic() < deadline, "the requests never reached the database"
                time.sleep(0.1)
            cluster.down()  # with the lock still held: nothing is answered before
            holder.invalidate()
            fault_engine.dispose()
            answers = {p: f.result() for p, f in zip(paths, pending, strict=True)}
    finally:
        holder.close()
        cluster.up()
    for path, answer in answers.items():
        assert answer.status_code == 503, (path, answer.status_code, answer.text[:300])
        assert "database" in answer.json()["detail"], (path, answer.text)


def _waiting_on_locks(engine: Engine) -> int:
    return _activity(engine, "wait_event_type = 'Lock'")


def _activity(engine: Engine, condition: str) -> int:
    """How many backends of this database are in ``condition`` (of pg_stat_activity)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                f"AND {condition}"
            )
        ).scalar_one()


def _until_header(url: str, headers: dict[str, str], wanted: str, seconds: float = 10) -> str:
    """X-Tile-Cache of ``url`` once it is ``wanted`` (or the last one seen)."""
    deadline = time.monotonic() + seconds
    while True:
        state = httpx.get(url, headers=headers, timeout=30).headers.get("x-tile-cache", "")
        if state == wanted or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def _big_households(path: Path, rows: int) -> Path:
    """``rows`` households in the demo's buildings, with unit labels no one else uses."""
    households = build_demo_district()["households"]
    picks = np.arange(rows) % len(households)
    big = households.iloc[picks].reset_index(drop=True)
    big["unit_label"] = [f"K-{i}" for i in range(rows)]
    big.to_file(path, layer="households", driver="GPKG", engine="pyogrio")
    return path


def _copying(engine: Engine) -> bool:
    """Whether an import is COPYing rows (into the table, or into its staging table)."""
    return bool(_activity(engine, "query ILIKE 'COPY %' AND state = 'active'"))


def _other_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE d.datname = current_database() AND l.pid <> pg_backend_pid()"
            )
        ).scalar_one()


def test_import_killed_while_copying_leaves_the_table_as_it_was(
    fault_url: str, fault_engine: Engine, tmp_path: Path
) -> None:
    source = _big_households(tmp_path / "big.gpkg", 300_000)
    with fault_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM households")).scalar_one()
    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": fault_url, "GEO_SERVICE_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [BIN / "geo-service", "import", "households", str(source)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not _copying(fault_engine):
            assert process.poll() is None, "the import ended before it was writing"
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.01)
        time.sleep(0.2)  # some rows on their way
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()

    for _ in range(100):  # the server ends the orphaned backend when its socket closes
        if _other_locks(fault_engine) == 0:
            break
        time.sleep(0.1)
    assert _other_locks(fault_engine) == 0
    with fault_engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM households")).scalar_one() == before
        conn.execute(text("SET LOCAL lock_timeout = '1s'"))
        conn.execute(text("LOCK TABLE households IN ACCESS EXCLUSIVE MODE"))  # nothing holds it
        indexes = conn.execute(
            text("SELECT count(*) FROM pg_indexes WHERE tablename = 'households'")
        ).scalar_one()
    assert indexes >= 2, "the import's suspended indexes are still there"
