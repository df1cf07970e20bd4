"""Households carry ``visited`` and ``open_requests`` for readers of the sites' liaison work,
as a GIS client reads them (items, filters, sorting, queryables), and not at all for others."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text

from geo_service.access import Principal
from geo_service.liaison import requests as cases
from geo_service.ogc.collections import Collection, Page, features_json
from geo_service.ogc.crs import parse_crs
from geo_service.query import work_sites
from geo_service.settings import LiaisonSettings
from layers import COLLECTIONS
from tests.ogc.conftest import case_work

ITEMS = "/ogc/collections/households/items"
OFFICER = Principal(role="liaison", username="wang", site_ids=frozenset({1}))


def _by_unit(doc: dict) -> dict[str, dict]:
    return {f["properties"]["unit_label"]: f["properties"] for f in doc["features"]}


def test_a_planner_reads_each_households_visits_and_open_requests(
    district_households: Engine, client_as
) -> None:
    case_work(district_households)  # one visit and one open request for each of three
    with district_households.begin() as conn:
        first = conn.execute(
            text("SELECT public_id FROM requests ORDER BY id LIMIT 1")
        ).scalar_one()
        cases.move(conn, OFFICER, first, "cancelled", LiaisonSettings(), note="住户撤回")
    planner = client_as("planner")
    homes = _by_unit(planner.get(ITEMS).json())
    assert [h["visited"] for h in homes.values()] == [1, 1, 1]
    assert sorted(h["open_requests"] for h in homes.values()) == [0, 1, 1]
    # As QGIS and GDAL ask: a filter on the server, an order, the queryables.
    open_ones = planner.get(ITEMS, params={"filter": "open_requests > 0"}).json()
    assert open_ones["numberMatched"] == 2
    assert planner.get(ITEMS, params={"visited": "0"}).json()["numberMatched"] == 0
    ordered = planner.get(ITEMS, params={"sortby": "-open_requests"}).json()["features"]
    assert ordered[-1]["properties"]["open_requests"] == 0
    queryables = planner.get("/ogc/collections/households/queryables").json()["properties"]
    assert queryables["visited"]["type"] == "integer"
    assert queryables["open_requests"]["description"] == "未办结诉求"
    page = planner.get(ITEMS, params={"f": "html", "lang": "zh"}).text
    assert "走访次数" in page and "未办结诉求" in page


def test_the_counts_are_absent_for_a_reader_without_the_liaison_work(
    district_households: Engine,
) -> None:
    """A reader who may read no site's requests gets no such property (not a null), and an
    officer of another site counts none of this site's work."""
    case_work(district_households)
    layer = COLLECTIONS["households"]
    for role in ("gis", "anonymous"):
        assert work_sites(Principal(role=role)) is None
        assert "visited" not in Collection(layer, work_sites=None).field_names
    other = Principal(role="liaison", username="li", site_ids=frozenset({2}))
    with district_households.connect() as conn:
        for who, visited in ((other, 0), (OFFICER, 1)):
            col = Collection(layer, work_sites=work_sites(who))
            found = json.loads(
                "[" + features_json(conn, col, Page(limit=10, crs=parse_crs(None))).features + "]"
            )
            assert {f["properties"]["visited"] for f in found} == {visited}, who.username
        bare = features_json(conn, Collection(layer), Page(limit=10, crs=parse_crs(None))).features
    assert "visited" not in bare and "open_requests" not in bare
