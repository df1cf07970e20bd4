"""A small district near Hangzhou's West Lake, and clients of the app pointed at it.

Two parcels (one with a compound land use), a housing site on the first parcel, a road
upgrade stored as a line, and one community beside them.

``client`` is an administrator's (an API token), so data tests test data; ``anonymous``
sends no credentials and ``client_as(role, sites=[...])`` holds a token of any role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import geopandas as gpd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from shapely.geometry import Point, box
from sqlalchemy import Engine, create_engine, text

from geo_service.ingest import import_frame
from geo_service.main import create_app
from geo_service.settings import DatabaseSettings, ImportSettings
from tests.accounts import bearer, issue_token

SEED = """
INSERT INTO parcels (id, code, unit_code, land_use, parcel_index, land_use_zh, land_use_en, geom)
VALUES
  (1, 'XC1003-R21-02', 'XC1003', '{R21}', '02', '二类住宅用地（住宅用地）',
   'Class II residential (housing)',
   ST_GeomFromText('MULTIPOLYGON(((120.158 30.266, 120.161 30.266, 120.161 30.268,
                                   120.158 30.268, 120.158 30.266)))', 4326)),
  (2, 'GS0201-R21/B1-05', 'GS0201', '{R21,B1}', '05', '二类住宅用地/商业用地',
   'Class II residential/Commercial',
   ST_GeomFromText('MULTIPOLYGON(((120.162 30.266, 120.164 30.266, 120.164 30.268,
                                   120.162 30.268, 120.162 30.266)))', 4326));

INSERT INTO sites (id, code, name, kind, status, progress_pct, start_date, end_date,
                   work_hours_start, work_hours_end, owner, survey, design, contractor,
                   supervisor, liaison_officer, geom)
VALUES
  (1, 'AZF-2024-01', '西溪安置房一期', 'resettlement_housing', 'under_construction', 35,
   '2024-03-01', '2026-06-30', '07:00', '20:00', '城投集团', '省勘察院', '市规划设计院',
   '建工集团', '华东监理', '王联络',
   ST_GeomFromText('POLYGON((120.1585 30.2665, 120.1605 30.2665, 120.1605 30.2675,
                             120.1585 30.2675, 120.1585 30.2665))', 4326)),
  (2, 'ROAD-2024-07', '文三路提升改造', 'road', 'planned', NULL, NULL, NULL, NULL, NULL,
   '交通局', NULL, NULL, '市政公司', NULL, '李联络',
   ST_GeomFromText('LINESTRING(120.150 30.270, 120.160 30.270, 120.170 30.271)', 4326));
SELECT setval(pg_get_serial_sequence('sites', 'id'), 2);

INSERT INTO monitors (mn, site_id, name, st, kind, placement, password, geom)
VALUES ('AZF202401-01', 1, '西溪安置房一期 扬尘噪声监测点', '39', 'both', 'boundary', 'seed-pw',
        ST_SetSRID(ST_MakePoint(120.1585, 30.2670), 4326));
SELECT setval(pg_get_serial_sequence('parcels', 'id'), 2);

INSERT INTO site_parcels (site_id, parcel_id) VALUES (1, 1);

INSERT INTO communities (name, street_office, district, acoustic_class, geom)
VALUES ('翠苑一区', '翠苑街道', '西湖区', '2',
        ST_GeomFromText('MULTIPOLYGON(((120.155 30.268, 120.158 30.268, 120.158 30.271,
                                        120.155 30.271, 120.155 30.268)))', 4326));
"""


@pytest.fixture
def district(db: Engine) -> Engine:
    """The test database holding the small district (and nothing else)."""
    with db.begin() as conn:
        conn.exec_driver_sql(SEED)
    return db


@pytest.fixture
def homes(district: Engine) -> Engine:
    """Three households north-west of the housing site, one with an elderly resident."""
    import_frame(
        district,
        "buildings",
        gpd.GeoDataFrame(
            {"address": ["翠苑一区1幢"], "community": ["翠苑一区"]},
            geometry=[box(120.1565, 30.2685, 120.1575, 30.2690)],
            crs="EPSG:4326",
        ),
        settings=ImportSettings(),
    )
    import_frame(
        district,
        "households",
        gpd.GeoDataFrame(
            {
                "building": ["翠苑一区1幢"] * 3,
                "unit_label": ["1-1-101", "1-1-102", "1-2-301"],
                "residents": [2, 3, 1],
                "contact_name": ["示例-王某", "示例-李某", "示例-张某"],
                "phone": ["199-0000-0001", "199-0000-0002", "199-0000-0003"],
                "elderly": [True, False, False],
            },
            geometry=[Point(120.1570, 30.2688), Point(120.1572, 30.2687), Point(120.1574, 30.2686)],
            crs="EPSG:4326",
        ),
        settings=ImportSettings(),
    )
    with district.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO site_equipment (site_id, equipment_code, count) "
                "VALUES (1, 'excavator', 2)"
            )
        )
    return district


def _client_for(url: str) -> TestClient:
    """A client of the app on any database; use it in ``with`` so the lifespan runs."""
    return TestClient(create_app(DatabaseSettings(database_url=url)))


@pytest.fixture
def client_for() -> Callable[[str], TestClient]:
    """For tests of other databases: one that is down, or one never migrated."""
    return _client_for


@pytest.fixture
def app(district: Engine, service_database_url: str) -> FastAPI:
    """The app on the seeded test database, connected as the service's own role."""
    return create_app(DatabaseSettings(database_url=service_database_url))


@pytest.fixture
def client(app: FastAPI, district: Engine) -> Iterator[TestClient]:
    """An administrator's client (API token); the lifespan runs around the test."""
    with TestClient(app) as test_client:
        test_client.headers.update(bearer(issue_token(district, "admin")))
        yield test_client


@pytest.fixture
def anonymous(client: TestClient, app: FastAPI) -> TestClient:
    """A client that sends no credentials (the app runs in ``client``'s lifespan), from the
    service's own pages, as a browser says (``Sec-Fetch-Site``)."""
    return TestClient(app, follow_redirects=False, headers={"Sec-Fetch-Site": "same-origin"})


@pytest.fixture
def client_as(client: TestClient, app: FastAPI, district: Engine) -> Callable[..., TestClient]:
    """``client_as("liaison", sites=["AZF-2024-01"])``: a client with a token of that role."""

    def make(role: str, sites: Sequence[str] = ()) -> TestClient:
        token = issue_token(district, role, sites=sites)
        return TestClient(app, headers=bearer(token), follow_redirects=False)

    return make


@pytest.fixture(scope="session")
def unmigrated_database_url(engine: Engine) -> Iterator[str]:
    """An empty database beside the test one: what a server finds before ``db up``."""
    url = engine.url.set(database=f"{engine.url.database}_unmigrated")
    admin = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    admin.dispose()
