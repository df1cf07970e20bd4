"""Counts of vulnerable households cannot be taken apart by someone who may not see the flags.

The attack of issue 11: a planner draws a site's bands so that they differ by one household
and reads ``vulnerable_households`` per band; the difference was that household's elderly /
infant / disabled / night-shift flag (10 of 10 households identified). Now bands off the
50 m grid are refused, widening the outer band is an administrator's act, and the counts a
planner reads are perturbed by the cell-key method (``geo_service.impact.disclosure``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from shapely.geometry import Point, box
from sqlalchemy import Engine, text

from geo_service.impact.disclosure import SMALL
from geo_service.ingest import import_frame
from geo_service.settings import ImportSettings

SITE = "AZF-2024-01"
SETTINGS = f"/api/sites/{SITE}/impact-settings"
IMPACT = f"/api/sites/{SITE}/impact"
ANY = {"If-Match": "*"}
EAST_EDGE, LAT = 120.1605, 30.2670  # the housing site's east edge
TARGETS = [50 * k + 25 for k in range(1, 20)]  # one household in each 50 m ring, 75-975 m
SALTS = [f"salt-{n}" for n in range(10)]


def _households(engine: Engine, distances: list[float], flags: list[bool]) -> None:
    """One building and household per distance east of the site, with the given flags."""
    geod = Geod(ellps="WGS84")
    points = [Point(geod.fwd(EAST_EDGE, LAT, 90, d)[:2]) for d in distances]
    names = [f"测试{n}幢" for n in range(len(points))]
    settings = ImportSettings()
    buildings = [box(p.x - 1e-6, p.y - 1e-6, p.x + 1e-6, p.y + 1e-6) for p in points]
    frame = {"address": names, "community": ["翠苑一区"] * len(names)}
    homes = {"building": names, "unit_label": ["1-1-101"] * len(names), "elderly": flags}
    for layer, rows, shapes in (("buildings", frame, buildings), ("households", homes, points)):
        frame_ = gpd.GeoDataFrame(rows, geometry=shapes, crs=4326)
        import_frame(engine, layer, frame_, settings=settings)


@pytest.fixture
def street(district: Engine) -> list[bool]:
    """Ten elderly households within 50 m (so every cumulative count is large enough to be
    shown), then one household per 50 m ring, elderly or not at random: the flags to guess."""
    flags = [random.Random(7).random() < 0.5 for _ in TARGETS]
    _households(district, [10 + 3 * n for n in range(10)] + TARGETS, [True] * 10 + flags)
    return flags


def _ring_guesses(reader: TestClient, editor: TestClient) -> list[bool]:
    """The differencing attack: bands [50k, 1000] give the count within 50k m; the next one
    minus this one is the flag of the household in between."""
    within = []
    for k in range(1, 21):
        bands = [50 * k, 1000] if k < 20 else [1000]
        assert editor.put(SETTINGS, json={"bands_m": bands}, headers=ANY).status_code == 200
        count = reader.get(IMPACT).json()["by_band"][0]["vulnerable_households"]
        within.append(-99 if count == SMALL else count)
    return [after - before >= 1 for before, after in itertools.pairwise(within)]


def test_the_band_narrowing_attack_recovers_nothing(
    client: TestClient, client_as: Callable[..., TestClient], district: Engine, street: list[bool]
) -> None:
    assert client.put(SETTINGS, json={"bands_m": [1000]}, headers=ANY).status_code == 200
    planner = client_as("planner")

    # Against exact counts (what an administrator reads) the attack is perfect ...
    assert _ring_guesses(client, planner) == street
    # ... and narrow bands that would isolate households are refused outright.
    refused = planner.put(SETTINGS, json={"bands_m": [60, 70, 80, 1000]}, headers=ANY)
    assert refused.status_code == 400 and "multiples of 50 m" in refused.json()["detail"]

    # Against what a planner reads, under ten different disclosure keys, it is a coin toss.
    right = 0
    for salt in SALTS:
        with district.begin() as conn:
            conn.execute(text("UPDATE disclosure_key SET salt = :s"), {"s": salt})
        guesses = _ring_guesses(planner, planner)
        right += sum(g == f for g, f in zip(guesses, street, strict=True))
    accuracy = right / (len(SALTS) * len(street))
    assert accuracy < 0.7, f"the attack guessed {accuracy:.0%} of the flags"  # 60% today

    # The finest bands a planner may draw show nothing about single households.
    bands = [50 * k for k in range(1, 11)]
    assert planner.put(SETTINGS, json={"bands_m": bands}, headers=ANY).status_code == 200
    summary = planner.get(IMPACT).json()
    single = [c for c in summary["by_band"] + summary["by_building"] if c["households"] == 1]
    assert single and {c["vulnerable_households"] for c in single} == {SMALL}


def test_a_planner_cannot_widen_a_sites_personal_data_scope(
    client: TestClient, client_as: Callable[..., TestClient], district: Engine, street: list[bool]
) -> None:
    """The outer band is the liaison officers' scope: only an administrator moves it out."""
    planner = client_as("planner")
    wider = planner.put(SETTINGS, json={"bands_m": [50, 200, 600]}, headers=ANY)
    assert wider.status_code == 403
    assert "an administrator must make this change" in wider.json()["detail"]
    assert "500 m to 600 m" in wider.json()["detail"]
    assert client.get(SETTINGS).json()["bands_m"] == [50, 200, 500]
    assert planner.put(SETTINGS, json={"bands_m": [50, 200, 400]}, headers=ANY).status_code == 200

    assert client.put(SETTINGS, json={"bands_m": [100, 600]}, headers=ANY).status_code == 200
    with district.connect() as conn:
        row = conn.execute(
            text(
                "SELECT actor, record_count, detail FROM audit_log "
                "WHERE action = 'widen_personal_scope' AND target = :t"
            ),
            {"t": f"site:{SITE}"},
        ).one()
    # 10 within 50 m and the rings up to 400 m before; the rings of 425-575 m added.
    assert row.record_count == 4 and row.detail["households_before"] == 10 + 7
    capped = client.put(SETTINGS, json={"bands_m": [100, 1500]}, headers=ANY)
    assert capped.status_code == 400 and "at most 1000 m" in capped.json()["detail"]


def test_community_exposure_and_site_summary_protect_small_counts(
    client: TestClient, client_as: Callable[..., TestClient], district: Engine, homes: Engine
) -> None:
    """Three households, one elderly: a planner reads "<5", the site's liaison the count,
    and the liaison's exact read is audited as a read of personal data."""
    with district.connect() as conn:
        community_id = conn.execute(text("SELECT id FROM communities")).scalar_one()
    exposure = f"/api/communities/{community_id}/exposure"
    planner, liaison = client_as("planner"), client_as("liaison", sites=[SITE])

    shown = planner.get(exposure).json()["by_site"]
    assert shown and {row["vulnerable_households"] for row in shown} == {SMALL}
    assert planner.get(IMPACT).json()["totals"]["vulnerable_households"] == SMALL
    exact = client.get(exposure).json()["by_site"]
    assert sum(r["vulnerable_households"] for r in exact if r["site_code"] == SITE) == 1
    assert liaison.get(IMPACT).json()["totals"]["vulnerable_households"] == 1
    with district.connect() as conn:
        reads = conn.execute(
            text(
                "SELECT role, detail->>'aggregate' FROM audit_log "
                "WHERE action = 'read_personal' AND target = :t ORDER BY id"
            ),
            {"t": f"site:{SITE}"},
        ).all()
    assert [tuple(r) for r in reads] == [("admin", "counts"), ("liaison", "counts")]
