"""The impact model on real PostGIS: distances, bands, levels, vibration, overlaps, zones.

Households are placed with ``pyproj.Geod`` at exact geodesic distances from a site corner,
so every expected figure below is computed by hand from DESIGN.md's formulas.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pyproj
import pytest
from shapely.geometry import LineString, Point, box
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from geo_service import impact, noise
from geo_service.errors import InvalidImpactSettings
from geo_service.ingest import import_frame
from geo_service.settings import ImportSettings
from layers import get_layer

GEOD = pyproj.Geod(ellps="WGS84")
# The site: a 100 m x 100 m-ish square; its south-west corner is the anchor.
W, S, E, N = 120.2000, 30.2500, 120.2010, 30.2509
R0 = 15.24  # FHWA RCNM reference distance, 50 ft


def _at(azimuth: float, metres: float, lon: float = W, lat: float = S) -> Point:
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return Point(x, y)


def _frame(rows: dict, geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


@pytest.fixture
def area(db: Engine) -> Engine:
    """A class-2 community, one building, and a site square; no households yet."""
    import_frame(
        db,
        "communities",
        _frame(
            {"name": ["试验社区"], "acoustic_class": ["2"]}, [box(120.19, 30.24, 120.21, 30.26)]
        ),
        settings=ImportSettings(),
    )
    import_frame(
        db,
        "buildings",
        _frame(
            {"address": ["试验1幢"], "community": ["试验社区"]},
            [box(120.195, 30.245, 120.196, 30.246)],
        ),
        settings=ImportSettings(),
    )
    import_frame(
        db,
        "sites",
        _frame(
            {"code": ["S1"], "name": ["试验工地"], "kind": ["resettlement_housing"]},
            [box(W, S, E, N)],
        ),
        settings=ImportSettings(),
    )
    return db


def _households(engine: Engine, points: dict[str, Point]) -> None:
    import_frame(
        engine,
        "households",
        _frame(
            {"building": ["试验1幢"] * len(points), "unit_label": list(points)},
            list(points.values()),
        ),
        settings=ImportSettings(),
    )


def _equip(engine: Engine, site: str, lines: list[dict]) -> None:
    with engine.begin() as conn:
        impact.set_equipment(conn, impact.resolve_site(conn, site).id, lines)


def _rows(engine: Engine, site: str = "S1") -> dict[str, dict]:
    with engine.connect() as conn:
        ref = impact.resolve_site(conn, site)
        return {r["unit_label"]: r for r in impact.affected_households(conn, ref.id)}


def test_one_excavator_at_100_m_hand_computed(area: Engine) -> None:
    _households(area, {"1-1-101": _at(225, 100)})
    _equip(area, "S1", [{"equipment": "excavator"}])
    row = _rows(area)["1-1-101"]
    # 81 dB(A) Lmax at 50 ft, usage factor 40 %: 81 + 10 log10(0.4) - 20 log10(100 / 15.24)
    expected = 81 + 10 * math.log10(0.40) - 20 * math.log10(100 / R0)
    assert expected == pytest.approx(60.68, abs=0.01)
    assert row["leq_day"] == pytest.approx(expected, abs=0.1)
    assert row["leq_night"] is None  # the excavator does not work at night
    assert (row["limit_day"], row["limit_night"]) == (60, 50)
    assert row["exceed_day"] == pytest.approx(expected - 60, abs=0.1)


def test_levels_add_by_energy_and_night_counts_night_work_only(area: Engine) -> None:
    _households(area, {"1-1-101": _at(225, 100)})
    _equip(
        area,
        "S1",
        [
            {"equipment": "excavator", "count": 2},
            {"equipment": "generator", "night_work": True, "attenuation_db": 5},
        ],
    )
    row = _rows(area)["1-1-101"]
    spread = 20 * math.log10(100 / R0)
    excavators = 81 + 10 * math.log10(0.40) + 10 * math.log10(2)
    generator = 81 + 10 * math.log10(0.50) - 5
    day = 10 * math.log10(10 ** (excavators / 10) + 10 ** (generator / 10)) - spread
    assert row["leq_day"] == pytest.approx(day, abs=0.1)
    assert row["leq_night"] == pytest.approx(generator - spread, abs=0.1)


def test_distances_match_pyproj_geod_to_a_decimetre(area: Engine) -> None:
    targets = {
        f"1-1-{100 + i}": (az, d)
        for i, (az, d) in enumerate(
            [(200, 37.0), (225, 120.5), (250, 333.3), (190, 480.0), (215, 12.0)]
        )
    }
    _households(area, {label: _at(az, d) for label, (az, d) in targets.items()})
    rows = _rows(area)
    for label, (_, metres) in targets.items():
        # Each point lies south-west of the corner, so the corner is its nearest site point.
        assert rows[label]["distance_m"] == pytest.approx(metres, abs=0.1)
    # And against the edge: a point due south of the middle of the south edge.
    middle = ((W + E) / 2, S)
    x, y, _ = GEOD.fwd(*middle, 180, 250.0)
    _households(area, {"2-1-101": Point(x, y)})
    assert _rows(area)["2-1-101"]["distance_m"] == pytest.approx(250.0, abs=0.1)


def test_band_edges_are_inclusive_at_the_outer_distance(area: Engine) -> None:
    _households(
        area,
        {
            "a": _at(225, 49.9),
            "b": _at(225, 50.1),
            "c": _at(225, 199.9),
            "d": _at(225, 200.1),
            "e": _at(225, 499.9),
            "f": _at(225, 500.1),
        },
    )
    rows = _rows(area)
    assert {k: rows[k]["band"] for k in rows} == {"a": 1, "b": 2, "c": 2, "d": 3, "e": 3}
    assert "f" not in rows  # beyond the outer band
    with area.connect() as conn:
        exact = conn.execute(
            text(
                "SELECT (SELECT min(i) FROM generate_subscripts(ARRAY[50.0, 200, 500]::float8[], 1)"
                " i WHERE (ARRAY[50.0, 200, 500]::float8[])[i] >= 50.0)"
            )
        ).scalar_one()
    assert exact == 1  # the view's rule: a distance equal to an outer edge is in that band


def test_household_on_the_boundary_and_inside_are_at_zero(area: Engine) -> None:
    _households(area, {"edge": Point(W, (S + N) / 2), "inside": Point((W + E) / 2, (S + N) / 2)})
    rows = _rows(area)
    assert rows["edge"]["distance_m"] == pytest.approx(0, abs=1e-6)
    assert rows["inside"]["distance_m"] == 0
    assert rows["inside"]["band"] == 1


def test_road_site_given_as_a_line(area: Engine) -> None:
    import_frame(
        area,
        "sites",
        _frame(
            {"code": ["ROAD"], "name": ["道路"], "kind": ["road"]},
            [LineString([(120.19, 30.2550), (120.19, 30.2600)])],
        ),
        settings=ImportSettings(),
    )
    x, y, _ = GEOD.fwd(120.19, 30.2575, 90, 80.0)
    _households(area, {"r": Point(x, y)})
    row = _rows(area, "ROAD")["r"]
    assert row["distance_m"] == pytest.approx(80.0, abs=0.1)
    assert row["band"] == 2


def test_site_with_no_households_around(area: Engine) -> None:
    import_frame(
        area,
        "sites",
        _frame({"code": ["FAR"], "name": ["远处"]}, [box(121.0, 31.0, 121.001, 31.001)]),
        settings=ImportSettings(),
    )
    _households(area, {"1": _at(225, 10)})
    with area.connect() as conn:
        ref = impact.resolve_site(conn, "FAR")
        assert impact.affected_households(conn, ref.id) == []
        summary = impact.site_impact(conn, ref, exact=True)
    assert summary["totals"]["households"] == 0 and summary["by_band"] == []


def test_two_overlapping_sites_combine_by_energy(area: Engine) -> None:
    import_frame(
        area,
        "sites",
        _frame({"code": ["S2"], "name": ["第二工地"]}, [box(W - 0.0005, S - 0.0005, W, S)]),
        settings=ImportSettings(),
    )
    _households(area, {"both": _at(225, 100)})
    _equip(area, "S1", [{"equipment": "excavator"}])
    _equip(area, "S2", [{"equipment": "breaker"}])
    one, two = _rows(area, "S1")["both"], _rows(area, "S2")["both"]
    with area.connect() as conn:
        combined = impact.multi_site_households(conn)
    assert len(combined) == 1 and combined[0]["sites"] == ["S1", "S2"]
    expected = 10 * math.log10(10 ** (one["leq_day"] / 10) + 10 ** (two["leq_day"] / 10))
    assert combined[0]["combined_leq_day"] == pytest.approx(expected, abs=0.1)


def test_vibration_screening_distances_from_fta(area: Engine) -> None:
    _households(area, {"near": _at(225, 10), "mid": _at(225, 40), "far": _at(225, 150)})
    _equip(area, "S1", [{"equipment": "impact_pile_driver"}])
    damage_m = 25 * (0.644 / 0.2) ** (1 / 1.5) * 0.3048  # 16.6 m
    annoyance_m = 25 * (0.644 / 0.04) ** (1 / 1.5) * 0.3048  # 48.6 m
    rows = _rows(area)
    assert [rows[k]["vib_damage_risk"] for k in ("near", "mid", "far")] == [True, False, False]
    assert [rows[k]["vib_annoyance_risk"] for k in ("near", "mid", "far")] == [True, True, False]
    with area.connect() as conn:
        params = impact.site_parameters(conn, impact.resolve_site(conn, "S1").id)
    assert params["vibration_damage_distance_m"] == pytest.approx(damage_m, abs=0.1)
    assert params["vibration_annoyance_distance_m"] == pytest.approx(annoyance_m, abs=0.1)


def test_the_python_formulas_give_the_views_figures(area: Engine) -> None:
    """``noise``'s formulas, which explain a prediction, are the views' on the same inputs."""
    _households(
        area,
        {
            "inside": Point((W + E) / 2, (S + N) / 2),  # distance 0: counts as the minimum
            "near": _at(225, 0.6),
            "mid": _at(200, 37.5),
            "far": _at(250, 420.0),
        },
    )
    lines = [
        {"equipment": "excavator", "count": 2, "night_work": False, "attenuation_db": 0.0},
        {"equipment": "generator", "count": 1, "night_work": True, "attenuation_db": 5.0},
        {"equipment": "impact_pile_driver", "count": 1, "night_work": False, "attenuation_db": 2.5},
    ]
    _equip(area, "S1", [*lines, {"equipment": "crane", "phase": "later"}])
    kinds = noise.equipment_types()
    leq = [
        noise.leq_at_reference(kinds[x["equipment"]], x["count"], x["attenuation_db"])
        for x in lines
    ]
    day = noise.energy_sum(leq)
    night = noise.energy_sum(level for level, x in zip(leq, lines, strict=True) if x["night_work"])
    vib = noise.model()["vibration"]
    ppv = [kinds[x["equipment"]].ppv_25ft_in_s for x in lines]
    damage = max(noise.vibration_distance_m(p, vib["damage_ppv_in_s"]) for p in ppv if p)
    annoyance = max(noise.vibration_distance_m(p, vib["annoyance_ppv_in_s"]) for p in ppv if p)
    with area.connect() as conn:
        site = conn.execute(text("SELECT * FROM site_impact WHERE code = 'S1'")).one()
        households = conn.execute(text("SELECT * FROM household_impacts")).all()
    assert site.phase == "main"  # the loudest phase by day
    assert site.l_ref_day == pytest.approx(day, abs=1e-9)
    assert site.l_ref_night == pytest.approx(night, abs=1e-9)
    assert (site.vib_damage_m, site.vib_annoyance_m) == pytest.approx((damage, annoyance))
    assert len(households) == 4
    assert {r.vib_annoyance_risk for r in households} == {True, False}  # both sides tested
    for row in households:
        assert row.leq_day == pytest.approx(noise.level_at(day, row.distance_m), abs=1e-9)
        assert row.leq_night == pytest.approx(noise.level_at(night, row.distance_m), abs=1e-9)
        assert row.vib_damage_risk == (row.distance_m <= damage)
        assert row.vib_annoyance_risk == (row.distance_m <= annoyance)
    with area.begin() as conn:  # no night work: no night level in Python or SQL
        impact.set_settings(conn, site.site_id, active_phase="later")
    with area.connect() as conn:
        later = conn.execute(text("SELECT * FROM site_impact WHERE code = 'S1'")).one()
    assert later.l_ref_night is None and noise.energy_sum([]) is None
    assert later.l_ref_day == pytest.approx(noise.leq_at_reference(kinds["crane"]), abs=1e-9)


def test_results_follow_changes_of_geometry_bands_equipment_and_households(area: Engine) -> None:
    _households(area, {"h": _at(225, 150)})
    assert _rows(area)["h"]["band"] == 2
    with area.begin() as conn:
        site = impact.resolve_site(conn, "S1")
        impact.set_settings(conn, site.id, bands_m=[100, 300])
    assert _rows(area)["h"]["band"] == 2 and _rows(area)["h"]["band_outer_m"] == 300
    _equip(area, "S1", [{"equipment": "crane"}])
    before = _rows(area)["h"]["leq_day"]
    _equip(area, "S1", [{"equipment": "impact_pile_driver"}])
    assert _rows(area)["h"]["leq_day"] > before
    with area.begin() as conn:  # move the site 1 km east: nobody is affected any more
        conn.execute(text("UPDATE sites SET geom = ST_Translate(geom, 0.0104, 0) WHERE code='S1'"))
    assert _rows(area) == {}
    with area.begin() as conn:
        conn.execute(text("UPDATE sites SET geom = ST_Translate(geom, -0.0104, 0) WHERE code='S1'"))
        conn.execute(text("DELETE FROM households"))
    assert _rows(area) == {}


def test_aggregates_by_band_community_and_building(area: Engine) -> None:
    _households(area, {"a": _at(225, 20), "b": _at(225, 30), "c": _at(225, 300)})
    with area.begin() as conn:
        conn.execute(text("UPDATE households SET residents = 3, elderly = (unit_label = 'a')"))
    _equip(area, "S1", [{"equipment": "excavator"}])
    with area.connect() as conn:
        summary = impact.site_impact(conn, impact.resolve_site(conn, "S1"), exact=True)
    assert summary["totals"]["households"] == 3 and summary["totals"]["residents"] == 9
    assert summary["totals"]["vulnerable_households"] == 1
    by_band = {r["band"]: r for r in summary["by_band"]}
    assert (by_band[1]["households"], by_band[3]["households"]) == (2, 1)
    assert summary["by_community"][0]["community"] == "试验社区"
    assert summary["by_building"][0]["building"] == "试验1幢"
    assert summary["parameters"]["equipment"][0]["leq_at_reference_dba"] == pytest.approx(
        77.0, abs=0.05
    )


@pytest.mark.parametrize(
    "flag", [f.name for f in get_layer("households").fields if f.sensitive and f.kind == "bool"]
)
def test_every_sensitive_flag_of_the_layer_makes_a_household_vulnerable(
    area: Engine, flag: str
) -> None:
    _households(area, {"flagged": _at(225, 20), "other": _at(225, 30)})
    with area.begin() as conn:
        conn.execute(text(f"UPDATE households SET {flag} = (unit_label = 'flagged')"))
    with area.connect() as conn:
        summary = impact.site_impact(conn, impact.resolve_site(conn, "S1"), exact=True)
    assert summary["totals"]["households"] == 2
    assert summary["totals"]["vulnerable_households"] == 1


def test_impact_zones_rings_and_contours(area: Engine) -> None:
    _equip(area, "S1", [{"equipment": "excavator"}])
    with area.connect() as conn:
        zones = {
            r.id: r
            for r in conn.execute(
                text(
                    "SELECT id, kind, band, outer_m, limit_dba, ST_Area(geography(geom)) AS area "
                    "FROM impact_zones WHERE site_code = 'S1'"
                )
            )
        }
    assert {"S1:band:1", "S1:band:2", "S1:band:3", "S1:day:2"} <= set(zones)
    assert "S1:night:2" not in zones  # nothing works at night
    radius = R0 * 10 ** ((81 + 10 * math.log10(0.4) - 60) / 20)
    assert zones["S1:day:2"].outer_m == pytest.approx(radius, abs=0.01)
    # A ring's area is the outer buffer minus the inner one.
    assert zones["S1:band:2"].area < zones["S1:band:3"].area


def test_bad_settings_are_refused_with_the_reason(area: Engine) -> None:
    with area.begin() as conn:
        site = impact.resolve_site(conn, "S1")
        for bands, says in [
            ([200, 50], "increasing"),
            ([0, 50], "above 0"),
            ([50, 90000], "at most 5000"),
        ]:
            with pytest.raises(InvalidImpactSettings, match=says):
                impact.set_settings(conn, site.id, bands_m=bands)
        with pytest.raises(InvalidImpactSettings, match="unknown equipment 'tunnel_boring'"):
            impact.set_equipment(conn, site.id, [{"equipment": "tunnel_boring"}])
        with pytest.raises(InvalidImpactSettings, match="dust, vibration"):
            impact.set_settings(conn, site.id, kinds=["smell"])


def test_impact_queries_use_the_household_index(area: Engine) -> None:
    """With households spread over the city, a site's query reads a few via the GiST index."""
    with area.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO households (building_id, unit_label, geom) "
                "SELECT 1, 'g-' || i, "
                "ST_Point(120.0 + (i % 100) * 0.004, 30.1 + (i / 100) * 0.004, 4326) "
                "FROM generate_series(1, 5000) i"
            )
        )
        conn.execute(text("ANALYZE households, sites, buildings, communities"))
    with area.connect() as conn:
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN SELECT * FROM household_impacts WHERE site_id = 1")
            ).scalars()
        )
    assert "Index Scan using ix_households_geom" in plan


def test_json_list_is_the_row_list_written_by_postgresql(area: Engine) -> None:
    """The API's JSON path (assembled in SQL) carries the same rows, values and order."""
    _households(area, {f"1-{i}-10{i % 3}": _at(180 + 7 * i, 15.0 + 23.7 * i) for i in range(20)})
    with area.begin() as conn:
        conn.execute(
            text(
                "UPDATE households SET residents = 2, contact_name = '示例-王\"某\\', "
                "phone = '199-0000-0001', elderly = (id % 2 = 0)"
            )
        )
    _equip(area, "S1", [{"equipment": "excavator"}, {"equipment": "generator", "night_work": True}])
    personal = impact.personal_columns()
    with area.connect() as conn:
        site = impact.resolve_site(conn, "S1").id
        for sort in ("distance", "address"):
            for who in ((), personal):
                for limit, offset in ((None, 0), (7, 0), (7, 14), (5, 100)):
                    rows = impact.affected_households(
                        conn, site, personal=who, sort=sort, limit=limit, offset=offset
                    )
                    page = impact.affected_households_json(
                        conn, site, personal=who, sort=sort, limit=limit, offset=offset
                    )
                    decoded = json.loads(page.households)
                    assert decoded == rows
                    assert [list(r) for r in decoded] == [list(r) for r in rows]  # key order
                    assert (page.returned, page.total) == (len(rows), 20)


@pytest.mark.parametrize("value", [0.285, 1.005, 2.675, -0.05, -0.04, 0.0, 499.995, 12.3449999])
def test_list_rounding_matches_numeric_rounding(area: Engine, value: float) -> None:
    with area.connect() as conn:
        for digits in (1, 2):
            fast, exact = conn.execute(
                text(
                    f"SELECT {impact.rounded('CAST(:x AS float8)', digits)}, "
                    f"round(CAST(:x AS float8)::numeric, {digits})::float8"
                ),
                {"x": value},
            ).one()
            assert fast == exact and math.copysign(1, fast) == math.copysign(1, exact)


def test_bands_out_of_order_are_refused_by_the_database_too(area: Engine) -> None:
    """The band lookup needs increasing bands; a hand-written row cannot break it."""
    with pytest.raises(IntegrityError, match="ck_site_impact_bands_increasing"), area.begin() as c:
        c.execute(
            text(
                "INSERT INTO site_impact_settings (site_id, bands_m) "
                "SELECT id, ARRAY[200, 50]::float8[] FROM sites"
            )
        )
