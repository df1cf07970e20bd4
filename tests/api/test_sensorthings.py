"""The SensorThings API at /sta/v1.1 over HTTP: the monitors as Things, a monitor times a
factor as a Datastream with its unit, the readings as Observations (an interval for minute
data, an instant for real-time data, the HJ 212 flag as resultQuality); paging to the end,
counts, $select, $expand, filters on time and ids; bad options are 400s that say what is
wrong, unknown ids 404s; a monitor's password never appears."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from geo_service.main import create_app
from geo_service.monitoring import hj212
from geo_service.settings import AuthSettings, DatabaseSettings
from tests.api.test_monitors import MN, monitors  # noqa: F401
from tests.monitoring.test_hj212 import PACKETS

STA = "/sta/v1.1"
DUST = "DUST-MG-01"
START = dt.datetime(2024, 6, 1, 22, 0)  # local time (Asia/Shanghai): 14:00 UTC
MINUTES = 30


def minute_packets() -> bytes:
    """30 minutes of data from both monitors (CN 2051), and DESIGN.md's real-time packet.
    The dust monitor sends mg/m3; its fifth minute is flagged D (fault)."""
    packets = [PACKETS[2]]
    for n in range(MINUTES):
        t = f"{START + dt.timedelta(minutes=n):%Y%m%d%H%M%S}"
        noise = f"DataTime={t};Leq-Data={50 + n / 10:.1f};LMx-Data={65 + n / 10:.1f}"
        flag = "D" if n == 4 else "N"
        dust = f"DataTime={t};a34002-Avg={0.080 + n / 1000:.3f},a34002-Flag={flag}"
        packets.append(hj212.build(st="23", cn="2051", pw="123456", mn=MN, cp=noise).strip())
        packets.append(hj212.build(st="39", cn="2051", pw="s3cret-pw", mn=DUST, cp=dust).strip())
    return b"\r\n".join(packets) + b"\r\n"


@pytest.fixture
def sta(client: TestClient, monitors: Engine) -> TestClient:  # noqa: F811
    answer = client.post("/api/ingest/hj212", content=minute_packets())
    assert answer.json()["refused"] == 0, answer.text
    return client


def get(client: TestClient, path: str, **params: str) -> dict:
    answer = client.get(STA + path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def follow(client: TestClient, link: str) -> dict:
    """An @iot.nextLink, as a client follows it (the link is absolute)."""
    parts = urlsplit(link)
    answer = client.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_service_root_lists_the_entity_sets_and_the_conformance(sta: TestClient) -> None:
    root = get(sta, "")
    names = [s["name"] for s in root["value"]]
    assert names[:2] == ["Things", "Locations"]
    assert {"Datastreams", "Sensors", "ObservedProperties", "Observations"} <= set(names)
    assert all(s["url"].endswith(f"{STA}/{s['name']}") for s in root["value"])
    conformance = root["serverSettings"]["conformance"]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data" in conformance


def test_things_are_the_monitors_without_their_passwords(sta: TestClient) -> None:
    things = get(sta, "/Things", **{"$expand": "Locations,Datastreams"})
    by_id = {t["@iot.id"]: t for t in things["value"]}
    assert {MN, DUST} <= set(by_id)  # and the district's own monitor
    noise = by_id[MN]
    assert noise["properties"]["site"] == "AZF-2024-01"
    assert noise["properties"]["kind"] == "noise"
    assert noise["@iot.selfLink"].endswith(f"{STA}/Things('{MN}')")
    assert noise["Datastreams@iot.navigationLink"].endswith(f"Things('{MN}')/Datastreams")
    assert noise["Locations"][0]["location"] == {
        "type": "Point",
        "coordinates": [120.1586, 30.2666],
    }
    for path in ("/Things", "/Sensors", "/Datastreams", f"/Things('{DUST}')"):
        text = sta.get(STA + path, params={"$expand": "Datastreams"}).text
        assert "s3cret-pw" not in text and "password" not in text and "123456" not in text


def test_a_datastream_is_a_monitor_times_a_factor_with_its_unit(sta: TestClient) -> None:
    streams = get(sta, f"/Things('{DUST}')/Datastreams", **{"$expand": "ObservedProperty"})
    pm10 = next(s for s in streams["value"] if s["@iot.id"] == f"{DUST}:a34002")
    assert pm10["unitOfMeasurement"]["symbol"] == "ug/m3"  # stored in ug/m3, sent in mg/m3
    assert pm10["ObservedProperty"]["name"] == "Particulate matter PM10"
    assert not any(s["@iot.id"].endswith(":Leq") for s in streams["value"])  # a dust monitor
    leq = get(sta, f"/Datastreams('{MN}:Leq')")
    assert leq["unitOfMeasurement"]["symbol"] == "dB(A)"
    assert get(sta, "/ObservedProperties('a34004')")["name"] == "Particulate matter PM2.5"


def test_observations_are_intervals_for_minute_data_and_instants_in_real_time(
    sta: TestClient,
) -> None:
    pm10 = get(sta, f"/Datastreams('{DUST}:a34002')/Observations", **{"$top": "5"})["value"]
    first = pm10[0]
    assert first["phenomenonTime"] == "2024-06-01T14:00:00Z/2024-06-01T14:01:00Z"
    assert first["result"] == pytest.approx(80.0)  # 0.080 mg/m3
    assert first["resultQuality"] == "N"
    assert first["parameters"] == {"statistic": "Avg", "command": "2051"}
    assert pm10[4]["resultQuality"] == "D"
    (la,) = get(sta, f"/Datastreams('{MN}:LA')/Observations")["value"]
    assert la["phenomenonTime"] == "2016-08-01T00:58:57Z"  # 08:58:57 in Hangzhou
    assert la["resultQuality"] is None  # the packet sent no flag
    again = get(sta, f"/Observations('{la['@iot.id']}')")
    assert again["result"] == 50.1
    assert get(sta, f"/Observations('{la['@iot.id']}')/Datastream")["@iot.id"] == f"{MN}:LA"


def test_paging_follows_next_links_to_the_end_with_the_count_on_every_page(
    sta: TestClient,
) -> None:
    page = get(sta, f"/Datastreams('{MN}:Leq')/Observations", **{"$top": "7", "$count": "true"})
    seen, pages = [], 0
    while True:
        pages += 1
        assert page["@iot.count"] == MINUTES
        seen += [o["phenomenonTime"] for o in page["value"]]
        if "@iot.nextLink" not in page:
            break
        page = follow(sta, page["@iot.nextLink"])
    assert pages == 5 and len(seen) == MINUTES == len(set(seen))
    assert seen == sorted(seen)
    everything = get(sta, "/Observations", **{"$count": "true", "$top": "1000"})
    assert everything["@iot.count"] == 3 * MINUTES + 1
    assert "@iot.nextLink" not in everything


def test_top_over_the_maximum_is_served_in_pages_of_the_maximum(sta: TestClient) -> None:
    page = get(sta, "/Observations", **{"$top": "5000"})
    assert len(page["value"]) == 3 * MINUTES + 1  # fewer than the 1,000 a page holds


def test_top_zero_is_the_count_alone(sta: TestClient) -> None:
    page = get(sta, "/Observations", **{"$top": "0", "$count": "true"})
    assert page == {"@iot.count": 3 * MINUTES + 1, "value": []}  # and no next page
    thing = get(sta, f"/Things('{MN}')", **{"$expand": "Datastreams($top=0)"})
    assert thing["Datastreams"] == [] and "Datastreams@iot.nextLink" not in thing


def test_filters_on_time_and_ids(sta: TestClient) -> None:
    def ids(path: str, flt: str) -> list[str]:
        return [o["@iot.id"] for o in get(sta, path, **{"$filter": flt, "$top": "1000"})["value"]]

    leq = f"/Datastreams('{MN}:Leq')/Observations"
    # Minute intervals inside 14:05-14:10 UTC: those starting at 14:05 ... 14:09.
    inside = (
        "phenomenonTime ge 2024-06-01T14:05:00Z and phenomenonTime lt 2024-06-01T22:10:00+08:00"
    )
    assert len(ids(leq, inside)) == 5
    assert len(ids(leq, "phenomenonTime le 2024-06-01T14:01:00Z")) == 1
    assert len(ids(leq, "result gt 52.0")) == 9
    one = ids(leq, inside)[0]
    assert ids("/Observations", f"id eq '{one}'") == [one]
    assert ids("/Observations", f"@iot.id eq '{one}'") == [one]
    assert len(ids("/Observations", f"Datastream/id eq '{MN}:LMx'")) == MINUTES
    assert ids("/Observations", "id eq 'not-an-observation'") == []
    assert len(ids("/Observations", "resultQuality eq 'D'")) == 1
    assert len(ids("/Datastreams", f"Thing/id eq '{DUST}' and not (id eq '{DUST}:a34002')")) > 3
    assert ids("/Things", f"id in ('{DUST}', 'nobody')") == [DUST]


def test_select_and_order(sta: TestClient) -> None:
    things = get(sta, "/Things", **{"$select": "id,name", "$orderby": "id desc"})["value"]
    assert {frozenset(t) for t in things} == {frozenset({"@iot.id", "@iot.selfLink", "name"})}
    ids = [t["@iot.id"] for t in things]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    newest = get(
        sta,
        f"/Datastreams('{MN}:Leq')/Observations",
        **{"$orderby": "phenomenonTime desc", "$top": "1", "$select": "result,phenomenonTime"},
    )["value"]
    assert newest[0]["result"] == pytest.approx(52.9)
    assert "parameters" not in newest[0]


def test_expand_one_level_with_its_own_options(sta: TestClient) -> None:
    thing = get(
        sta, f"/Things('{MN}')", **{"$expand": "Datastreams($top=2;$select=name;$orderby=id)"}
    )
    assert [set(d) for d in thing["Datastreams"]] == [{"@iot.selfLink", "name"}] * 2
    assert "Datastreams@iot.nextLink" in thing
    stream = get(
        sta,
        f"/Datastreams('{MN}:LMx')",
        **{"$expand": "Observations($orderby=phenomenonTime desc;$top=1),Thing"},
    )
    assert stream["Thing"]["@iot.id"] == MN
    assert [o["result"] for o in stream["Observations"]] == [pytest.approx(67.9)]
    obs = get(sta, "/Observations", **{"$top": "2", "$expand": "Datastream($select=id)"})
    assert all(o["Datastream"]["@iot.id"].count(":") == 1 for o in obs["value"])


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"$filter": "phenomenonTime ge"}, "unexpected"),
        ({"$filter": "result gt 'loud'"}, "number"),
        ({"$filter": "password eq '123456'"}, "'password'"),
        ({"$filter": "phenomenonTime ge 2024-06-01T00:00:00"}, "time zone"),
        ({"$filter": "phenomenonTime ge 2024-02-30T00:00:00Z"}, "not a time"),
        ({"$filter": "contains(name, 'x')"}, "Call"),
        ({"$filter": "result add 1 gt 2"}, "compare a property"),
        ({"$filter": "Nowhere/id eq 'x'"}, "'Nowhere'"),
        ({"$filter": "#"}, "cannot read"),
        ({"$filter": "(" * 3000}, "longer than"),
        ({"$top": "-1"}, "$top"),
        ({"$top": "ten"}, "$top"),
        ({"$skip": "1.5"}, "$skip"),
        ({"$count": "yes"}, "$count"),
        ({"$orderby": "loudness"}, "'loudness'"),
        ({"$orderby": "result sideways"}, "$orderby"),
        ({"$select": "password"}, "'password'"),
        ({"$expand": "Datastream/Thing"}, "one level"),
        ({"$expand": "Datastream($expand=Thing)"}, "one level"),
        ({"$expand": "Sensors"}, "'Sensors'"),
        ({"$expand": "Datastream($top=x)"}, "$top"),
        ({"$expand": "Datastream($top=1"}, "unbalanced"),
        ({"$format": "csv"}, "$format"),
    ],
)
def test_bad_options_are_400s_that_name_the_problem(
    client: TestClient, params: dict[str, str], named: str
) -> None:
    answer = client.get(f"{STA}/Observations", params=params)
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/Things('nobody')",
        "/Things(42)",
        "/Observations('garbage')",
        f"/Observations('{MN}:Leq:Data:2051:20240601T000000.000000Z')",
        f"/Datastreams('{DUST}:Leq')",  # a dust monitor measures no noise
        "/ObservedProperties('a99999')/Datastreams",
        "/Nothings",
        f"/Things('{MN}')/Nothing",
    ],
)
def test_unknown_ids_are_404s(sta: TestClient, path: str) -> None:
    answer = sta.get(STA + path)
    assert answer.status_code == 404, answer.text


def test_one_property_of_an_entity(sta: TestClient) -> None:
    assert get(sta, f"/Things('{MN}')/name") == {"name": MN}


def test_who_may_read_is_who_may_read_the_monitors_layer(
    sta: TestClient, anonymous: TestClient, client_as: Callable[..., TestClient]
) -> None:
    assert anonymous.get(f"{STA}/Things").status_code == 401
    assert client_as("gis").get(f"{STA}/Things").status_code == 200
    # The same readings through /api/monitors: the same rule (it had asked for a signed-in
    # reader even where /sta, opened to anonymous callers, served them).
    readings = f"/api/monitors/{MN}/readings?from=2024-06-01T00:00:00Z&to=2024-06-02T00:00:00Z"
    assert anonymous.get(readings).status_code == 401
    assert client_as("gis").get(readings).status_code == 200


def test_where_the_monitors_layer_is_open_to_anonymous_callers_so_are_its_readings(
    sta: TestClient, service_database_url: str
) -> None:
    app = create_app(
        DatabaseSettings(database_url=service_database_url),
        auth=AuthSettings(anonymous_layers=("monitors",)),
    )
    with TestClient(app, headers={"Sec-Fetch-Site": "same-origin"}) as anonymous:
        observations = get(anonymous, f"/Datastreams('{MN}:Leq')/Observations")["value"]
        answer = anonymous.get(
            f"/api/monitors/{MN}/readings",
            params={"from": "2024-06-01T00:00:00Z", "to": "2024-06-02T00:00:00Z", "factor": "Leq"},
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["readings"]) == len(observations) == MINUTES
        # Nothing else opens with it: the households' layer and the alarms stay closed.
        assert anonymous.get("/ogc/collections/households/items").status_code == 401
        assert anonymous.get("/api/alarms").status_code == 401
