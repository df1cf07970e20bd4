"""Roles, principals and credentials: who may see which households' personal fields."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo_service import auth
from geo_service.access import (
    ROLES,
    Permission,
    Principal,
    anonymous,
    local_operator,
    personal_fields_for,
    require_households,
)
from geo_service.errors import Forbidden, InsecureConfiguration, InvalidAccount, NotAuthenticated
from geo_service.main import create_app
from geo_service.settings import AuthSettings, DatabaseSettings, ServerSettings
from layers import get_layer
from tests.accounts import issue_token, make_user

SITE = """
INSERT INTO sites (id, code, name, geom) VALUES
  (1, 'AZF-2024-01', '西溪安置房一期', ST_GeomFromText('POLYGON((120.1 30.2, 120.11 30.2,
      120.11 30.21, 120.1 30.2))', 4326)),
  (2, 'ROAD-2024-07', '文三路提升改造', ST_GeomFromText('LINESTRING(120.1 30.2, 120.2 30.2)',
      4326))
"""


@pytest.fixture
def sites(db: Engine) -> Engine:
    with db.begin() as conn:
        conn.exec_driver_sql(SITE)
    return db


def _as(role: str, *site_ids: int) -> Principal:
    return Principal(role=role, username=f"{role}-1", site_ids=frozenset(site_ids))


# -- roles as data ----------------------------------------------------------------------------
def test_roles_are_those_of_the_design_and_admin_has_every_permission() -> None:
    assert set(ROLES) == {"admin", "planner", "liaison", "member", "gis"}
    assert ROLES["admin"].permissions == frozenset(Permission)
    assert Permission.READ_PERSONAL_ALL not in ROLES["planner"].permissions
    assert ROLES["gis"].permissions == {Permission.READ_PUBLIC_LAYERS}


def test_personal_fields_come_from_the_households_layer() -> None:
    personal = tuple(f.name for f in get_layer("households").personal_fields)
    assert {"contact_name", "phone", "elderly"} <= set(personal)

    assert personal_fields_for(_as("admin"), 7) == personal
    assert personal_fields_for(_as("liaison", 1), 1) == personal
    assert personal_fields_for(_as("liaison", 1), 2) == ()
    assert personal_fields_for(_as("planner"), 1) == ()
    assert personal_fields_for(_as("gis"), 1) == ()
    assert personal_fields_for(anonymous(), 1) == ()


def test_personal_site_ids_none_means_every_site() -> None:
    assert _as("admin").personal_site_ids() is None
    assert _as("liaison", 1, 3).personal_site_ids() == {1, 3}
    assert _as("planner").personal_site_ids() == set()


def test_liaison_sees_nothing_of_other_sites_households() -> None:
    require_households(_as("liaison", 1), 1)
    require_households(_as("planner"), 2)  # without personal fields
    with pytest.raises(Forbidden, match="not assigned to you"):
        require_households(_as("liaison", 1), 2)
    with pytest.raises(Forbidden):
        require_households(_as("gis"), 1)
    with pytest.raises(NotAuthenticated):
        require_households(anonymous(), 1)


def test_admins_and_planners_edit_impact_settings_and_a_refusal_names_the_permission() -> None:
    _as("admin").require_permission(Permission.EDIT_IMPACT_SETTINGS)
    _as("planner").require_permission(Permission.EDIT_IMPACT_SETTINGS)
    for role in ("liaison", "gis"):
        with pytest.raises(Forbidden, match=f"the {role} role does not allow edit_impact_settings"):
            _as(role).require_permission(Permission.EDIT_IMPACT_SETTINGS)
    with pytest.raises(NotAuthenticated, match="sign in"):
        anonymous().require_permission(Permission.EDIT_IMPACT_SETTINGS)


def test_layers_by_role_and_the_anonymous_setting() -> None:
    assert _as("planner").can_read_layer("households")
    assert _as("gis").can_read_layer("parcels")
    assert not _as("gis").can_read_layer("households")
    assert not _as("liaison").can_read_layer("households")  # only per site
    assert not anonymous().can_read_layer("parcels")
    opened = anonymous(layers=["parcels", "households"])
    assert opened.can_read_layer("parcels")
    assert not opened.can_read_layer("households")  # a layer with personal fields never is


def test_an_unknown_role_in_the_database_allows_nothing() -> None:
    odd = Principal(role="superuser", username="x")
    assert odd.permissions == frozenset()
    with pytest.raises(Forbidden):
        odd.require_permission(Permission.READ_PUBLIC_LAYERS)


# -- passwords and tokens ---------------------------------------------------------------------
def test_password_hash_is_argon2id_and_verifies_only_the_password() -> None:
    stored = auth.hash_password("zhang-san-2026")

    assert stored.startswith("$argon2id$")
    assert "zhang-san-2026" not in stored
    assert auth.verify_password(stored, "zhang-san-2026")
    assert not auth.verify_password(stored, "zhang-san-2027")
    assert not auth.verify_password(None, "zhang-san-2026")
    assert not auth.verify_password("not a hash", "zhang-san-2026")


def test_user_names_and_passwords_are_checked() -> None:
    auth.check_username("王联络")
    auth.check_username("li.si@example.org")
    for bad in ("", "a:b", "with space", "anonymous", "x" * 65):
        with pytest.raises(InvalidAccount):
            auth.check_username(bad)
    with pytest.raises(InvalidAccount, match="at least 10"):
        auth.check_password("short", "wang")
    with pytest.raises(InvalidAccount, match="differ"):
        auth.check_password("wang.liaison", "Wang.Liaison")


def test_expiry_is_a_duration_or_a_date_in_the_future_within_a_year() -> None:
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)

    def expiry(value: str | None) -> dt.datetime:
        return auth.parse_expiry(value, now=now, default_days=90, max_days=365)

    assert expiry("30d") == now + dt.timedelta(days=30)
    assert expiry("12h") == now + dt.timedelta(hours=12)
    assert expiry(None) == now + dt.timedelta(days=90)
    assert expiry("2027-01-01").year == 2027
    assert expiry("52w") == now + dt.timedelta(weeks=52)
    with pytest.raises(InvalidAccount, match="not in the future"):
        expiry("2020-01-01")
    with pytest.raises(InvalidAccount, match="neither a duration"):
        expiry("soon")
    # Issue 11: 99999w gave the year 3943; a token lasts a year at most.
    for too_long in ("99999w", "366d", "99999h", "2028-01-01"):
        with pytest.raises(InvalidAccount, match="more than 365 days"):
            expiry(too_long)


def test_token_is_stored_only_as_its_hash(sites: Engine) -> None:
    secret = issue_token(sites, "gis")
    with sites.connect() as conn:
        stored = conn.execute(text("SELECT prefix, token_hash FROM api_tokens")).one()

    assert secret.startswith("gst_") and len(secret) > 40
    assert stored.token_hash == auth.token_digest(secret)
    assert secret.startswith(stored.prefix) and secret not in stored


def test_token_for_a_user_never_exceeds_the_user(sites: Engine) -> None:
    make_user(sites, "wang", "liaison", sites=["AZF-2024-01"])

    with pytest.raises(InvalidAccount, match="cannot have the admin role"):
        issue_token(sites, "admin", username="wang")
    with pytest.raises(InvalidAccount, match="not assigned the site"):
        issue_token(sites, "liaison", username="wang", sites=["ROAD-2024-07"])
    settings = AuthSettings()
    own = issue_token(sites, None, username="wang")  # the user's role and sites
    principal = auth.principal_for_token(sites, own, client=None, settings=settings)
    assert (principal.role, principal.username, principal.site_ids) == (
        "liaison",
        "wang",
        frozenset({1}),
    )
    # Sites follow the user: an assignment taken away is gone from the token at once.
    with sites.begin() as conn:
        auth.set_user_sites(conn, "wang", [], by=local_operator())
    again = auth.principal_for_token(sites, own, client=None, settings=settings)
    assert again.site_ids == frozenset()


def test_sites_apply_only_to_roles_that_use_them(sites: Engine) -> None:
    with pytest.raises(InvalidAccount, match="not to planner"):
        make_user(sites, "li", "planner", sites=["AZF-2024-01"])
    with pytest.raises(InvalidAccount, match="no site has the code"):
        make_user(sites, "li", "liaison", sites=["NO-SUCH-SITE"])
    with pytest.raises(InvalidAccount, match="unknown role"):
        make_user(sites, "li", "superuser")


def test_assignments_survive_a_reimport_of_sites(sites: Engine) -> None:
    make_user(sites, "wang", "liaison", sites=["AZF-2024-01"])
    with sites.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sites")
        conn.exec_driver_sql(
            SITE.replace("(1, 'AZF", "(11, 'AZF").replace("(2, 'ROAD", "(12, 'ROAD")
        )

    principal = auth.sign_in(
        sites, "wang", "correct-horse-battery", client=None, settings=AuthSettings()
    )
    assert principal.site_ids == frozenset({11})


# -- the secret key ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "secret", ["", "changeme", "short-but-not-empty", "a" * 40, "abab" * 12, "password" * 5]
)
def test_default_secret_refused_outside_development(secret: str, tmp_path: Path) -> None:
    with pytest.raises(InsecureConfiguration, match="GEO_SERVICE_SECRET_KEY"):
        create_app(
            DatabaseSettings(database_url="postgresql://x@127.0.0.1:1/x", home=tmp_path),
            auth=AuthSettings(secret_key=secret),
            server=ServerSettings(environment="production"),
        )


def test_real_secret_accepted_and_development_keeps_a_generated_one(tmp_path: Path) -> None:
    settings = DatabaseSettings(database_url="postgresql://x@127.0.0.1:1/x", home=tmp_path)
    real = secrets.token_urlsafe(48)
    app = create_app(
        settings,
        auth=AuthSettings(secret_key=real),
        server=ServerSettings(environment="production"),
    )
    assert app.state.session_secret == real

    first = create_app(settings, auth=AuthSettings(), server=ServerSettings())
    second = create_app(settings, auth=AuthSettings(), server=ServerSettings())
    assert len(first.state.session_secret) >= 32
    assert first.state.session_secret == second.state.session_secret
    assert (tmp_path / "secret-key").stat().st_mode & 0o077 == 0
