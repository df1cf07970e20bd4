"""The embedded cluster: ``db up`` creates, starts and is idempotent; it survives a crash."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from geo_service.cli import main
from geo_service.cluster import EmbeddedCluster
from geo_service.database import alembic_config
from geo_service.settings import _default_home


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cluster folder of its own (inside the checkout: the server user must reach it)."""
    folder = _default_home() / "test-cluster"
    shutil.rmtree(folder, ignore_errors=True)
    monkeypatch.setenv("GEO_SERVICE_HOME", str(folder))
    monkeypatch.setenv("GEO_SERVICE_EMBEDDED_PORT", "54400")
    monkeypatch.delenv("GEO_SERVICE_DATABASE_URL", raising=False)
    yield folder
    EmbeddedCluster(folder).down()
    shutil.rmtree(folder, ignore_errors=True)


def test_db_up_status_down_and_up_again(home: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["db", "up"])
    assert first.exit_code == 0, first.output
    assert "database ready" in first.output
    again = runner.invoke(main, ["db", "up"])
    assert again.exit_code == 0, again.output
    status = runner.invoke(main, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert "running: yes" in status.output and "postgis: 3." in status.output
    # Every head is applied (two while the access and impact branches are not yet chained).
    heads = ",".join(sorted(ScriptDirectory.from_config(alembic_config("")).get_heads()))
    assert f"schema_revision: {heads}" in status.output
    assert runner.invoke(main, ["db", "down"]).output.strip() == "stopped"
    stopped = runner.invoke(main, ["db", "status"])
    assert stopped.exit_code == 1 and "running: no" in stopped.output
    assert runner.invoke(main, ["db", "up"]).exit_code == 0


def test_db_up_recovers_after_the_server_was_killed(home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "up"]).exit_code == 0
    pid_file = home / "pgdata" / "postmaster.pid"
    pid = int(pid_file.read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    # The postmaster's children may linger a moment; wait until they have let go.
    time.sleep(1)
    assert pid_file.exists()  # stale
    result = runner.invoke(main, ["db", "up"])
    assert result.exit_code == 0, result.output
    assert EmbeddedCluster(home).is_running()


def test_a_taken_port_moves_the_cluster_to_the_next_one(home: Path) -> None:
    import socket

    with socket.socket() as blocker:
        # Earlier tests' connections to this port may linger in TIME_WAIT.
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", 54400))
        blocker.listen()
        assert CliRunner().invoke(main, ["db", "up"]).exit_code == 0
    assert EmbeddedCluster(home).port == 54401


def test_database_url_set_only_migrates(
    home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["db", "up"])
    assert result.exit_code == 0, result.output
    assert "migrating that database only" in result.output
    assert not (home / "pgdata").exists()


def test_missing_postgis_as_non_root_prints_the_install_command(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(EmbeddedCluster, "postgis_control", tmp_path / "absent.control")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(main, ["db", "up"])
    assert result.exit_code == 2
    assert "PostGIS is not installed; install it as root with: apt-get update && " in result.output
    assert "apt-get install -y postgresql-15-postgis-3" in result.output
    assert not (home / "pgdata").exists()
