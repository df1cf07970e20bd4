"""``geo-service user create`` and ``token create``, and the demo administrator."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from geo_service import auth
from geo_service.cli import announce_demo_admin, main
from geo_service.devserver import free_port
from geo_service.errors import NotAuthenticated
from geo_service.settings import AuthSettings

SITES = """
INSERT INTO sites (code, name, geom) VALUES
  ('AZF-2024-01', '西溪安置房一期', ST_GeomFromText('LINESTRING(120.1 30.2, 120.2 30.2)', 4326)),
  ('ROAD-2024-07', '文三路提升改造', ST_GeomFromText('LINESTRING(120.1 30.3, 120.2 30.3)', 4326))
"""


@pytest.fixture
def cli_env(db: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    with db.begin() as conn:
        conn.exec_driver_sql(SITES)
    return db


def test_user_create_generates_a_password_shown_once(cli_env: Engine) -> None:
    result = CliRunner().invoke(main, ["user", "create", "li.planner", "--role", "planner"])

    assert result.exit_code == 0, result.output
    assert "created user li.planner (planner)" in result.output
    password = result.output.split("password (shown once): ")[1].strip()
    principal = auth.sign_in(cli_env, "li.planner", password, client=None, settings=AuthSettings())
    assert principal.role == "planner"
    with cli_env.connect() as conn:
        row = conn.execute(text("SELECT actor, target FROM audit_log WHERE action='user_create'"))
        actor, target = row.one()
    assert actor.startswith("local:") and target == "user:li.planner"


def test_user_create_reads_the_password_from_stdin_with_sites(cli_env: Engine) -> None:
    result = CliRunner().invoke(
        main,
        [
            "user",
            "create",
            "wang",
            "--role",
            "liaison",
            "--sites",
            "AZF-2024-01, ROAD-2024-07",
            "--password-stdin",
        ],
        input="a-long-password-from-a-vault\n",
    )

    assert result.exit_code == 0, result.output
    assert "sites AZF-2024-01, ROAD-2024-07" in result.output
    assert "a-long-password" not in result.output and "shown once" not in result.output
    principal = auth.sign_in(
        cli_env, "wang", "a-long-password-from-a-vault", client=None, settings=AuthSettings()
    )
    assert len(principal.site_ids) == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "superuser"], "'superuser' is not one of"),
        (["--role", "liaison", "--sites", "NO-SUCH"], "error: no site has the code(s) NO-SUCH"),
        (["--role", "planner", "--sites", "AZF-2024-01"], "apply to roles"),
    ],
)
def test_user_create_refusals_exit_2(cli_env: Engine, args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, ["user", "create", "zhao", *args])

    assert result.exit_code == 2
    assert says in result.output


def test_a_second_user_of_the_same_name_is_refused(cli_env: Engine) -> None:
    runner = CliRunner()
    runner.invoke(main, ["user", "create", "wang", "--role", "gis"])
    again = runner.invoke(main, ["user", "create", "WANG", "--role", "gis"])

    assert again.exit_code == 2 and "exists already" in again.output


def test_token_create_prints_the_token_once_on_stdout(cli_env: Engine) -> None:
    result = CliRunner().invoke(
        main, ["token", "create", "--role", "gis", "--expires", "30d", "--label", "QGIS"]
    )

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("gst_") and "\n" not in secret
    assert "role gis" in result.stderr and "shown once" in result.stderr
    principal = auth.principal_for_token(cli_env, secret, client=None, settings=AuthSettings())
    assert principal.role == "gis" and principal.username is None
    with cli_env.connect() as conn:
        expires = conn.execute(text("SELECT expires_at FROM api_tokens")).scalar_one()
    assert abs(expires - dt.datetime.now(dt.UTC) - dt.timedelta(days=30)) < dt.timedelta(minutes=1)


def test_token_for_a_user_takes_their_role_and_can_be_revoked(cli_env: Engine) -> None:
    runner = CliRunner()
    runner.invoke(main, ["user", "create", "wang", "--role", "liaison", "--sites", "AZF-2024-01"])
    created = runner.invoke(main, ["token", "create", "--user", "wang", "--expires", "30d"])
    secret = created.stdout.strip()
    principal = auth.principal_for_token(cli_env, secret, client=None, settings=AuthSettings())
    assert (principal.role, principal.username, len(principal.site_ids)) == ("liaison", "wang", 1)

    revoked = runner.invoke(main, ["token", "revoke", secret[:10]])

    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(Exception, match="revoked"):
        auth.principal_for_token(cli_env, secret, client=None, settings=AuthSettings())


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "a token needs a role"),
        (["--role", "gis", "--expires", "2001-01-01"], "not in the future"),
        (["--role", "gis", "--expires", "2099-01-01"], "more than 365 days from now"),
        (["--role", "gis", "--user", "nobody"], "no user is named 'nobody'"),
    ],
)
def test_token_create_refusals_exit_2(cli_env: Engine, args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, ["token", "create", *args])

    assert result.exit_code == 2
    assert says in result.output


# -- the demo administrator -----------------------------------------------------------------
def test_demo_admin_is_created_once_with_a_kept_password(db: Engine, tmp_path: Path) -> None:
    name, password = auth.ensure_demo_admin(db, tmp_path)
    again = auth.ensure_demo_admin(db, tmp_path)

    kept = tmp_path / "admin-password"
    assert name == "admin" and password and again == (name, password)
    assert kept.read_text().strip() == password and kept.stat().st_mode & 0o077 == 0
    assert auth.sign_in(db, "admin", password, client=None, settings=AuthSettings()).role == "admin"
    with db.begin() as conn:
        conn.execute(
            text("UPDATE users SET password_hash = :h"), {"h": auth.hash_password("x" * 12)}
        )
    assert auth.ensure_demo_admin(db, tmp_path) == ("admin", None)


def test_demo_admin_only_in_development(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("GEO_SERVICE_HOME", str(tmp_path))
    monkeypatch.setenv("GEO_SERVICE_ENVIRONMENT", "production")
    announce_demo_admin(db)
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0

    monkeypatch.setenv("GEO_SERVICE_ENVIRONMENT", "development")
    announce_demo_admin(db)
    password = (tmp_path / "admin-password").read_text().strip()
    assert f"sign in at /login as admin, password {password}" in capsys.readouterr().out


def test_serve_refuses_the_default_secret_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEO_SERVICE_ENVIRONMENT", "production")
    monkeypatch.delenv("GEO_SERVICE_SECRET_KEY", raising=False)

    result = CliRunner().invoke(main, ["serve"])

    assert result.exit_code == 2
    assert "error: GEO_SERVICE_SECRET_KEY must be set" in result.output


# -- managing users and tokens ----------------------------------------------------------------
def _run(args: list[str], stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, args, input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def _token(role: str | None = None, user: str | None = None, label: str = "QGIS") -> str:
    args = ["token", "create", "--label", label]
    args += ["--role", role] if role else []
    args += ["--user", user] if user else []
    return _run(args).strip().splitlines()[-1]


def _audited(engine: Engine) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT target, detail FROM audit_log WHERE action = 'user_update' ORDER BY id")
        )
        return [tuple(r) for r in rows]


def test_user_list_shows_roles_state_sites_and_tokens_never_secrets(cli_env: Engine) -> None:
    _run(["user", "create", "wang", "--role", "liaison", "--sites", "AZF-2024-01"])
    _run(["user", "create", "李规划", "--role", "planner"])
    secret = _token(user="wang")

    listed = _run(["user", "list"]).splitlines()

    assert listed[0].split() == ["user", "role", "active", "password", "sites", "tokens", "created"]
    rows = {line.split()[0]: line.split()[1:6] for line in listed[1:]}
    assert rows["wang"] == ["liaison", "yes", "yes", "AZF-2024-01", "1"]
    assert rows["李规划"] == ["planner", "yes", "yes", "-", "0"]
    assert secret not in "\n".join(listed) and "argon2" not in "\n".join(listed)


def test_a_deactivated_user_can_neither_sign_in_nor_use_their_tokens_until_reactivated(
    cli_env: Engine,
) -> None:
    _run(
        ["user", "create", "wang", "--role", "planner", "--password-stdin"], "wang-long-password\n"
    )
    secret = _token(user="wang")
    settings = AuthSettings(credential_cache_seconds=0)

    out = _run(["user", "deactivate", "WANG"])

    assert "deactivated wang" in out
    with pytest.raises(NotAuthenticated):
        auth.sign_in(cli_env, "wang", "wang-long-password", client=None, settings=settings)
    with pytest.raises(NotAuthenticated, match="deactivated"):
        auth.principal_for_token(cli_env, secret, client=None, settings=settings)
    _run(["user", "activate", "wang"])
    assert auth.principal_for_token(cli_env, secret, client=None, settings=settings).role == (
        "planner"
    )
    assert _audited(cli_env) == [
        ("user:wang", {"active": False, "sessions_ended": 0}),
        ("user:wang", {"active": True}),
    ]


def test_a_password_reset_replaces_the_old_one_and_is_audited_without_it(
    cli_env: Engine,
) -> None:
    _run(["user", "create", "wang", "--role", "planner", "--password-stdin"], "wang-old-password\n")
    settings = AuthSettings()

    out = _run(["user", "password", "wang"])
    new = out.split("password (shown once): ")[1].strip()
    too_short = CliRunner().invoke(
        main, ["user", "password", "wang", "--password-stdin"], "short\n"
    )

    assert auth.sign_in(cli_env, "wang", new, client=None, settings=settings).username == "wang"
    with pytest.raises(NotAuthenticated):
        auth.sign_in(cli_env, "wang", "wang-old-password", client=None, settings=settings)
    assert too_short.exit_code == 2 and "password" in too_short.output
    assert _audited(cli_env) == [("user:wang", {"password": "changed", "sessions_ended": 0})]
    assert new not in str(_audited(cli_env))


def test_a_new_role_without_sites_drops_the_assignments_and_outranked_tokens_stop(
    cli_env: Engine,
) -> None:
    _run(["user", "create", "wang", "--role", "admin"])
    admin_token = _token(role="admin", user="wang")
    _run(["user", "role", "wang", "liaison"])
    _run(["user", "create", "zhao", "--role", "liaison", "--sites", "AZF-2024-01"])
    settings = AuthSettings(credential_cache_seconds=0)

    out = _run(["user", "role", "zhao", "planner"])

    assert "zhao is now planner" in out
    assert "site assignments removed (planner takes none): AZF-2024-01" in out
    with cli_env.connect() as conn:
        assert auth.user_sites(conn, "zhao").sites == []
    with pytest.raises(NotAuthenticated, match="exceeds"):
        auth.principal_for_token(cli_env, admin_token, client=None, settings=settings)
    assert _audited(cli_env)[-1] == (
        "user:zhao",
        {
            "role": "planner",
            "previous": "liaison",
            "sites_removed": ["AZF-2024-01"],
            "sessions_ended": 0,
        },
    )


def test_token_list_shows_prefixes_and_states_never_secrets(cli_env: Engine) -> None:
    _run(["user", "create", "wang", "--role", "planner"])
    kept = _token(role="gis", label="QGIS-office")
    gone = _token(user="wang", label="old-laptop")
    _run(["token", "revoke", gone[:10]])

    active = _run(["token", "list"])
    everything = _run(["token", "list", "--all"])

    assert kept[:10] in active and gone[:10] not in active
    assert "QGIS-office" in active and "active" in active
    lines = {line.split()[0]: line for line in everything.splitlines()[1:]}
    assert "revoked" in lines[gone[:10]] and "old-laptop" in lines[gone[:10]]
    assert kept not in everything and gone not in everything


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["user", "deactivate", "nobody"], "no user is named 'nobody'"),
        (["user", "password", "nobody"], "no user is named 'nobody'"),
        (["user", "role", "nobody", "planner"], "no user is named 'nobody'"),
        (["user", "role", "wang", "boss"], "'boss' is not one of"),
    ],
)
def test_account_changes_to_unknown_users_or_roles_exit_2(
    cli_env: Engine, args: list[str], says: str
) -> None:
    _run(["user", "create", "wang", "--role", "planner"])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and says in result.output, result.output


@pytest.mark.parametrize(
    ("trusted", "recorded"),
    [
        (None, "127.0.0.1"),  # the default: no proxy is believed, the header is ignored
        ("127.0.0.1", "203.0.113.9"),  # a proxy on this machine, named: believed
        ("10.9.9.9", "127.0.0.1"),  # only that proxy is: the header from here is ignored
    ],
)
def test_serve_records_the_client_a_trusted_proxy_forwards_and_no_other(
    db: Engine, database_url: str, tmp_path: Path, trusted: str | None, recorded: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": database_url,
        "GEO_SERVICE_HOME": str(tmp_path),
        "GEO_SERVICE_WORKERS": "2",
    }
    if trusted:
        env["GEO_SERVICE_FORWARDED_ALLOW_IPS"] = trusted
    geo_service = Path(sys.executable).parent / "geo-service"
    server = subprocess.Popen(
        [geo_service, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # two workers on a busy 2-core machine
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not answer within 180 s"
                time.sleep(0.2)
        refused = httpx.get(
            base + "/api/sites",
            auth=("wang", "not-the-password"),
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]

    assert refused.status_code == 401
    believed = trusted or "nobody"
    assert f"with 2 worker(s); X-Forwarded-For believed from {believed}" in output
    with db.connect() as conn:
        clients = conn.execute(
            text("SELECT client FROM audit_log WHERE action = 'login_failed'")
        ).scalars()
        assert list(clients) == [recorded]


def test_sign_out_ends_every_browser_session_of_a_user(cli_env: Engine) -> None:
    _run(["user", "create", "wang", "--role", "planner", "--password-stdin"], "wang-password-1\n")
    cookies = [
        auth.start_session(cli_env, "wang", secret="s" * 40, hours=12, client=None)
        for _ in range(2)
    ]

    out = _run(["user", "sign-out", "wang"])

    assert "ended 2 browser session(s) of wang" in out
    for cookie in cookies:
        assert auth.principal_for_session(cli_env, cookie, secret="s" * 40, client=None) is None
    assert _audited(cli_env) == [("user:wang", {"sessions_ended": 2})]
