"""The embedded PostgreSQL + PostGIS cluster used when no database URL is configured.

A newcomer should get a real PostGIS with one command and no system set-up, without
touching a system PostgreSQL: the cluster lives in a git-ignored folder of the checkout,
listens on 127.0.0.1 on its own port and on a socket in its own folder. PostgreSQL
refuses to run as root, so under root the server runs as the ``postgres`` system user.

It trusts no one on the machine: every connection, over TCP or the socket, authenticates
with a SCRAM password; the passwords are generated and kept in the home folder, readable
by their owner only (mode 0600), and the socket's folder is the server user's alone. Two
roles: ``geo_service`` owns the databases and runs the migrations, and the service connects
as ``geo_service_app``, which owns no table and so cannot disable the audit log's triggers
(``geo_service.grants``). A cluster made by an older version (which trusted local users) is
given its passwords the next time it starts.
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
from typing import Any

from sqlalchemy.engine import URL

from geo_service.errors import ClusterError, PostgisMissing
from geo_service.grants import SERVICE_ROLE
from geo_service.settings import kept_secret

OWNER = "geo_service"
# Every connection authenticates: no "trust", no "peer" (another OS user is not us).
_HBA = """\
# Written by geo-service (geo_service/cluster.py): every connection needs its password.
local   all  all                scram-sha-256
host    all  all  127.0.0.1/32  scram-sha-256
host    all  all  ::1/128       scram-sha-256
"""
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
        self.hba_file = self.data_dir / "pg_hba.conf"
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

    def password(self, role: str) -> str:
        """The role's generated password, kept in ``<home>/db-<role>-password`` (0600)."""
        return kept_secret(self.home / f"db-{role}-password")

    def url(self, database: str, role: str = SERVICE_ROLE) -> str:
        """The URL for ``role``: the service's by default, the owner's for migrations."""
        port = self.port
        if port is None:
            raise ClusterError("the embedded database is not set up; run: geo-service db up")
        return URL.create(
            "postgresql+psycopg2",
            username=role,
            password=self.password(role),
            host="127.0.0.1",
            port=port,
            database=database,
        ).render_as_string(hide_password=False)

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
        if not self.is_running():
            self._start()
        # An older cluster's socket folder may be open to all: the server user's alone.
        self._run(["chmod", "700", self.socket_dir])
        self._require_passwords()
        self._ensure_service_role()

    def _start(self) -> None:
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
        from psycopg2 import sql

        with self._admin() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def _admin(self, password: str | None = None) -> Any:
        """A cursor of the owner on the ``postgres`` database, autocommitting."""
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=OWNER,
            password=self.password(OWNER) if password is None else password,
            dbname="postgres",
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    def _require_passwords(self) -> None:
        """Make sure the server asks every client for its password; a cluster that still
        trusts local users (made by an older version) gets the owner's password first."""
        if self._run(["cat", self.hba_file]).stdout == _HBA:
            return
        with self._admin(password="") as cur:  # still trusted: the last time it is
            cur.execute(f"ALTER ROLE {OWNER} PASSWORD %s", (self.password(OWNER),))
        self._write_owned(self.hba_file, _HBA)
        self._run([self.bindir / "pg_ctl", "reload", "-D", self.data_dir])

    def _ensure_service_role(self) -> None:
        """The service's login role: no superuser, owns nothing; its password kept like
        the owner's (set again each start, so the file is always the truth)."""
        with self._admin() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (SERVICE_ROLE,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(
                f"{verb} ROLE {SERVICE_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s",
                (self.password(SERVICE_ROLE),),
            )

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
            folder.chmod(0o700)
            if owner is not None:
                os.chown(folder, owner.pw_uid, owner.pw_gid)
        if owner is not None:
            self.log_file.touch()
            os.chown(self.log_file, owner.pw_uid, owner.pw_gid)
        # initdb reads the owner's password from a file the server user can read: one in
        # the socket folder (its own, mode 0700), removed at once.
        pwfile = self.socket_dir / "initdb-password"
        self._write_owned(pwfile, self.password(OWNER) + "\n")
        try:
            self._run(
                [
                    self.bindir / "initdb",
                    "-D",
                    self.data_dir,
                    "-U",
                    OWNER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_owned(self.hba_file, _HBA)

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
        self._write_owned(self.data_dir / "geo_service.conf", conf)
        main_conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'geo_service.conf'"
        text = self._run(["cat", main_conf]).stdout
        if include not in text:
            self._run(["sh", "-c", f"echo \"{include}\" >> '{main_conf}'"])

    def _write_owned(self, path: Path, content: str) -> None:
        """Write a file as the server user, readable by it alone."""
        self._run(["sh", "-c", f"umask 077 && cat > '{path}' <<'EOF'\n{content}EOF"])

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
