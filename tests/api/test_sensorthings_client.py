"""FROST's published Python client (``frost_sta_client``) reads the SensorThings API of a
running server: the Things, their Datastreams, and a time window of Observations, following
the server's pages."""

from __future__ import annotations

from collections.abc import Iterator

import frost_sta_client as fsc
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from geo_service.devserver import running_server
from tests.accounts import issue_token
from tests.api.test_monitors import MN, monitors  # noqa: F401
from tests.api.test_sensorthings import DUST, MINUTES, sta  # noqa: F401


@pytest.fixture
def service(sta: TestClient, monitors: Engine) -> Iterator[fsc.SensorThingsService]:  # noqa: F811
    """The client on a real server (uvicorn on loopback), with a gis role's token as the
    Basic password."""
    token = issue_token(monitors, "gis")
    with running_server(monitors.url.render_as_string(False)) as root:
        yield fsc.SensorThingsService(
            f"{root}/sta/v1.1", auth_handler=fsc.AuthHandler(username="any", password=token)
        )


def test_things_their_datastreams_and_a_window_of_observations(
    service: fsc.SensorThingsService,
) -> None:
    things = {t.id: t for t in service.things().query().list()}
    assert {MN, DUST} <= set(things)
    assert things[MN].properties["site"] == "AZF-2024-01"

    streams = {d.id: d for d in things[DUST].get_datastreams().query().list()}
    pm10 = streams[f"{DUST}:a34002"]
    assert pm10.unit_of_measurement.symbol == "ug/m3"

    leq = service.datastreams().find(f"{MN}:Leq")
    window = (
        leq.get_observations()
        .query()
        .filter("phenomenonTime ge 2024-06-01T14:10:00Z and phenomenonTime lt 2024-06-01T14:30:00Z")
        .top(6)  # pages of six: the client follows @iot.nextLink for the rest
        .list()
    )
    results = [o.result for o in window]
    assert len(results) == 20
    assert results == sorted(results)  # the test's levels rise minute by minute
    first = window.get(0)
    assert first.phenomenon_time == "2024-06-01T14:10:00Z/2024-06-01T14:11:00Z"
    assert first.result_quality is None  # noise minute data sent no flag

    everything = service.observations().query().count().top(50).list()
    assert everything.count == 3 * MINUTES + 1
    assert len(list(everything)) == 3 * MINUTES + 1
