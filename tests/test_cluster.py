"""The embedded cluster: ``db up`` creates, starts and is idempotent; it survives a crash."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from geo_service.cli import main
from geo_service.cluster import OWNER, EmbeddedCluster
from geo_service.database import alembic_config, make_engine
from geo_service.grants import SERVICE_ROLE
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


def _connect(cluster: EmbeddedCluster, user: str, password: str | None) -> None:
    psycopg2.connect(
        host="127.0.0.1", port=cluster.port, user=user, password=password, dbname="postgres"
    ).close()


def test_the_embedded_cluster_asks_every_client_for_its_password(home: Path) -> None:
    assert CliRunner().invoke(main, ["db", "up"]).exit_code == 0
    cluster = EmbeddedCluster(home)
    for role in (OWNER, SERVICE_ROLE):
        with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
            _connect(cluster, role, None)
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            _connect(cluster, role, "guessed")
        _connect(cluster, role, cluster.password(role))
        kept = home / f"db-{role}-password"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert kept.stat().st_uid == os.geteuid()
    # The socket's folder: its owner's alone, so no other local user reaches the socket.
    run = (home / "run").stat()
    assert stat.S_IMODE(run.st_mode) == 0o700
    assert run.st_uid == (pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid())
    if os.geteuid() == 0:  # another local user, with the psql everyone has
        other = subprocess.run(
            ["runuser", "-u", "nobody", "--", "psql", "-h", str(home / "run"), "-p",
             str(cluster.port), "-U", OWNER, "-d", "postgres", "-w", "-c", "SELECT 1"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert other.returncode != 0 and "Permission denied" in other.stderr


def test_a_cluster_that_trusted_local_users_is_given_passwords(home: Path) -> None:
    """What an older version made: trust for every local connection, no owner password."""
    assert CliRunner().invoke(main, ["db", "up"]).exit_code == 0
    cluster = EmbeddedCluster(home)
    with cluster._admin() as cur:
        cur.execute(f"ALTER ROLE {OWNER} PASSWORD NULL")
    cluster._write_owned(cluster.hba_file, "local all all trust\nhost all all 127.0.0.1/32 trust\n")
    cluster._run(["chmod", "755", home / "run"])
    cluster._run([cluster.bindir / "pg_ctl", "reload", "-D", cluster.data_dir])
    time.sleep(0.5)
    _connect(cluster, OWNER, None)  # the hole, as it was

    result = CliRunner().invoke(main, ["db", "up"])
    assert result.exit_code == 0, result.output
    time.sleep(0.5)
    with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
        _connect(cluster, OWNER, None)
    _connect(cluster, OWNER, cluster.password(OWNER))
    assert stat.S_IMODE((home / "run").stat().st_mode) == 0o700


def test_the_service_role_owns_nothing_and_cannot_touch_the_audit_log(
    engine: Engine, service_database_url: str
) -> None:
    """The service's own connection cannot disable the append-only triggers, rewrite the
    log, or change the tables: it only reads and writes rows."""
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_log (actor, role, action) VALUES ('t', 'admin', 'login')")
        )
    service = make_engine(service_database_url, pool_size=1)
    attempts = {
        "ALTER TABLE audit_log DISABLE TRIGGER USER": "must be owner",
        "UPDATE audit_log SET actor = 'someone else'": "permission denied",
        "DELETE FROM audit_log": "permission denied",
        "TRUNCATE audit_log": "permission denied",
        "DROP TRIGGER audit_log_no_update_delete ON audit_log": "must be owner",
        "ALTER TABLE households DROP COLUMN phone": "must be owner",
        "UPDATE impact_model SET reference_distance_m = 1": "permission denied",
        "CREATE TABLE stolen AS SELECT * FROM households": "permission denied",
    }
    try:
        for statement, refusal in attempts.items():
            with pytest.raises(ProgrammingError, match=refusal), service.begin() as conn:
                conn.execute(text(statement))
        with service.begin() as conn:
            superuser = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            assert conn.execute(text(superuser)).scalar_one() is False
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() >= 1
            conn.execute(
                text("INSERT INTO audit_log (actor, role, action) VALUES ('t', 'admin', 'logout')")
            )
    finally:
        service.dispose()
