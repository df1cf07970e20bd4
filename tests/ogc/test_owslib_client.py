"""OWSLib's OGC API - Features client (``owslib.ogcapi.features.Features``) on a live server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from owslib.ogcapi.features import Features
from sqlalchemy import Engine

from geo_service.devserver import running_server
from tests.accounts import bearer, issue_token


@pytest.fixture
def ogc(homes: Engine) -> Iterator[Features]:
    """OWSLib connected to the test district (with impact zones), an admin token."""
    with homes.begin() as conn:  # two parcels on either side of the antimeridian
        conn.exec_driver_sql(
            "INSERT INTO parcels (code, unit_code, land_use, parcel_index, land_use_zh, "
            "land_use_en, geom) SELECT c, 'FJ', '{G1}', '01', '绿地', 'Green', "
            "ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(x, -17), 4326), 0.1)) "
            "FROM (VALUES ('FJ01-G1-01', 179.5), ('FJ02-G1-01', -179.5)) v(c, x)"
        )
    token = issue_token(homes, "admin")
    with running_server(homes.url.render_as_string(False)) as root:
        yield Features(f"{root}/ogc", headers=bearer(token))


def test_impact_zones_say_how_many_there_are(ogc: Features) -> None:
    page = ogc.collection_items("impact_zones", limit=1000)
    assert page["numberMatched"] == page["numberReturned"] == len(page["features"]) > 0


def test_a_limit_above_the_maximum_is_the_maximum(ogc: Features) -> None:
    """It was a 400 (OWSLib raised); OGC 17-069r4 says it is not an error."""
    page = ogc.collection_items("parcels", limit=20000)
    assert page["numberReturned"] == page["numberMatched"] == 4


def test_a_bbox_across_the_antimeridian(ogc: Features) -> None:
    page = ogc.collection_items("parcels", bbox=[170, -20, -170, -10])
    assert sorted(f["id"] for f in page["features"]) == ["FJ01-G1-01", "FJ02-G1-01"]


def test_an_unknown_parameter_is_refused_by_name(ogc: Features) -> None:
    with pytest.raises(RuntimeError, match="unknown parameter 'bboxx'"):
        ogc.collection_items("sites", bboxx="1,2,3,4")
    with pytest.raises(RuntimeError, match="unknown parameter 'bboxx'"):
        ogc._request(path="collections", kwargs={"bboxx": "1,2,3,4"})
