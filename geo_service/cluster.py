"""The embedded PostgreSQL + PostGIS cluster used when no database URL is configured.

A newcomer should get a real PostGIS with one command and no system set-up, without
touching a system PostgreSQL: the cluster lives in a git-ignored folder of the checkout,
listens on 127.0.0.1 on its own port and on a socket in its own folder. PostgreSQL
refuses to run as root, so under root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from geo_service.errors import ClusterError, PostgisMissing

SUPERUSER = "geo_service"
_TUNING = {
    # A development cluster: generous memory for index builds, little WAL for bulk loads.
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "synchronous_commit": "off",
    "jit": "off",
    "max_connections": "200",
    "random_page_cost": "1.1",
}


def _bindir() -> Path:
    """The newest installed PostgreSQL server's binaries."""
    env = os.environ.get("GEO_SERVICE_PG_BINDIR")
    if env:
        return Path(env)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ClusterError(
        "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH); "
        "install them with: apt-get install postgresql"
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ClusterStatus:
    """What ``geo-service db status`` prints."""

    initialised: bool
    running: bool
    port: int | None
    data_dir: Path
    url: str | None


class EmbeddedCluster:
    """A project-local PostgreSQL cluster with PostGIS."""

    def __init__(self, home: Path, preferred_port: int = 54329) -> None:
        self.home = home.resolve()
        self.data_dir = self.home / "pgdata"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "postgres.log"
        self.state_file = self.home / "cluster.json"
        self.preferred_port = preferred_port
        self.bindir = _bindir()

    # -- facts -----------------------------------------------------------------------------
    @property
    def major_version(self) -> str:
        out = subprocess.run(
            [str(self.bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout
        return out.split()[-1].split(".")[0]

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    @property
    def port(self) -> int | None:
        if not self.state_file.is_file():
            return None
        return int(json.loads(self.state_file.read_text())["port"])

    def url(self, database: str) -> str:
        port = self.port
        if port is None:
            raise ClusterError("the embedded database is not set up; run: geo-service db up")
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{port}/{database}"

    def is_running(self) -> bool:
        if not self.initialised:
            return False
        result = self._run([self.bindir / "pg_ctl", "status", "-D", self.data_dir], check=False)
        return result.returncode == 0

    def status(self, database: str) -> ClusterStatus:
        running = self.is_running()
        return ClusterStatus(
            initialised=self.initialised,
            running=running,
            port=self.port,
            data_dir=self.data_dir,
            url=self.url(database) if self.port else None,
        )

    # -- actions ---------------------------------------------------------------------------
    @property
    def postgis_control(self) -> Path:
        """The file whose presence means PostGIS is installed for this server."""
        return Path(f"/usr/share/postgresql/{self.major_version}/extension/postgis.control")

    def ensure_postgis(self) -> None:
        """Install PostGIS with apt when missing and allowed; otherwise say how."""
        major = self.major_version
        control = self.postgis_control
        if control.is_file():
            return
        package = f"postgresql-{major}-postgis-3"
        command = f"apt-get update && apt-get install -y {package}"
        if os.geteuid() != 0:
            raise PostgisMissing(f"PostGIS is not installed; install it as root with: {command}")
        print(f"PostGIS is missing; installing {package} with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        installed = subprocess.run(["apt-get", "install", "-y", package], env=env, check=False)
        if installed.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=False)
            installed = subprocess.run(["apt-get", "install", "-y", package], env=env, check=False)
        if installed.returncode != 0 or not control.is_file():
            raise PostgisMissing(f"installing PostGIS failed; try by hand: {command}")

    def up(self) -> None:
        """Create the cluster if needed and start it; safe to call when it already runs."""
        self.ensure_postgis()
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.initialised:
            self._initdb()
        if self.is_running():
            return
        self._clear_stale_pid()
        port = self._choose_port()
        self._write_conf(port)
        self.state_file.write_text(json.dumps({"port": port}))
        result = self._run(
            [
                self.bindir / "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                self.data_dir,
                "-l",
                self.log_file,
            ],
            check=False,
        )
        if result.returncode != 0:
            tail = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise ClusterError(f"PostgreSQL did not start:\n{result.stderr}\n{tail}")
        self._wait_ready(port)

    def down(self) -> bool:
        """Stop the server; returns False when it was not running."""
        if not self.is_running():
            return False
        self._run([self.bindir / "pg_ctl", "stop", "-w", "-m", "fast", "-D", self.data_dir])
        return True

    def create_database(self, name: str) -> None:
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()

    # -- internals -------------------------------------------------------------------------
    def _owner(self) -> pwd.struct_passwd | None:
        """The system user the server runs as when we are root."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterError(
                "running as root needs a 'postgres' system user to own the database; "
                "create one with: useradd --system postgres"
            ) from exc

    def _run(self, argv: list, check: bool = True) -> subprocess.CompletedProcess[str]:
        args = [str(a) for a in argv]
        owner = self._owner()
        if owner is not None:
            args = ["runuser", "-u", owner.pw_name, "--", *args]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def _initdb(self) -> None:
        owner = self._owner()
        for folder in (self.data_dir, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            if owner is not None:
                os.chown(folder, owner.pw_uid, owner.pw_gid)
        self.data_dir.chmod(0o700)
        if owner is not None:
            self.log_file.touch()
            os.chown(self.log_file, owner.pw_uid, owner.pw_gid)
        self._run(
            [
                self.bindir / "initdb",
                "-D",
                self.data_dir,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )

    def _clear_stale_pid(self) -> None:
        """Remove a postmaster.pid left by a crash or reboot, so start does not refuse."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        with contextlib.suppress(ValueError, IndexError, OSError):
            pid = int(pid_file.read_text().splitlines()[0])
            comm = Path(f"/proc/{pid}/comm")
            if _pid_alive(pid) and comm.exists() and comm.read_text().strip() == "postgres":
                return
        pid_file.unlink(missing_ok=True)

    def _choose_port(self) -> int:
        port = self.port or self.preferred_port
        while not _port_free(port):
            port += 1
        return port

    def _write_conf(self, port: int) -> None:
        settings = {
            **_TUNING,
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.socket_dir}'",
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        target = self.data_dir / "geo_service.conf"
        self._run(["sh", "-c", f"cat > '{target}' <<'EOF'\n{conf}EOF"])
        main_conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'geo_service.conf'"
        text = self._run(["cat", main_conf]).stdout
        if include not in text:
            self._run(["sh", "-c", f"echo \"{include}\" >> '{main_conf}'"])

    def _wait_ready(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise ClusterError(f"PostgreSQL did not accept connections on port {port}")
