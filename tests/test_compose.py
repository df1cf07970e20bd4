"""docker-compose.yml is production-like (no Docker engine here, so it is read, not run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_the_service_in_production_as_a_role_that_owns_nothing() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app, db = compose["services"]["app"]["environment"], compose["services"]["db"]
    assert app["GEO_SERVICE_ENVIRONMENT"] == "production"
    # Secrets come from the environment and compose refuses to start without them.
    assert app["GEO_SERVICE_SECRET_KEY"].startswith("${GEO_SERVICE_SECRET_KEY:?")
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    service = make_url(app["GEO_SERVICE_DATABASE_URL"].replace("${", "").replace("}", ""))
    owner = make_url(app["GEO_SERVICE_DATABASE_OWNER_URL"].replace("${", "").replace("}", ""))
    assert (service.username, owner.username) == ("geo_service_app", "geo_service")
    script = "./docker/10-service-role.sh:/docker-entrypoint-initdb.d/10-service-role.sh:ro"
    assert script in db["volumes"]
    text = (ROOT / "docker" / "10-service-role.sh").read_text()
    assert "CREATE ROLE geo_service_app LOGIN NOSUPERUSER" in text
    assert subprocess.run(["sh", "-n", ROOT / "docker" / "10-service-role.sh"]).returncode == 0
