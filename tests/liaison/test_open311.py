"""Open311 GeoReport v2 at /open311/v2/: services, posting with a key, reading back public
fields in JSON and XML, Open311's errors, extensions, and a published client (georeport)
against a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from georeport import GeoReport
from sqlalchemy import Engine, text

from geo_service.cli import main
from geo_service.devserver import running_server
from geo_service.liaison import open311
from geo_service.liaison import requests as cases
from tests.liaison.conftest import OTHER, SITE, admin, officer

V2 = "/open311/v2"
# GeoReport v2's elements (wiki.open311.org/GeoReport_v2), as its XML examples have them.
SERVICE = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ATTRIBUTE = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
}


def check_xml(body: bytes, root: str, item: str, fields: set[str]) -> list[ET.Element]:
    """The document is ``<root><item>...</item>...</root>``, each item with the spec's
    elements (an ``extended_attributes`` beside them, as FixMyStreet adds)."""
    doc = ET.fromstring(body)
    assert doc.tag == root
    items = list(doc)
    for node in items:
        assert node.tag == item
        tags = [child.tag for child in node]
        assert set(tags) - {"extended_attributes", "values"} <= fields, tags
        assert len(tags) == len(set(tags))
    return items


@pytest.fixture
def key(officers: Engine) -> Callable[..., str]:
    def make(sites: tuple[str, ...] = (SITE,)) -> str:
        with officers.begin() as conn:
            return open311.create_key(conn, "街道 App", sites, by=admin()).secret

    return make


def post(anonymous: TestClient, fmt: str = "json", **fields: object) -> object:
    form = {
        "service_code": "noise",
        "lat": "30.267",
        "long": "120.159",
        "description": "夜里打桩太吵",
        **fields,
    }
    return anonymous.post(f"{V2}/requests.{fmt}", data={k: v for k, v in form.items() if v})


def test_services_list_the_categories_with_their_slas(anonymous: TestClient) -> None:
    services = anonymous.get(f"{V2}/services.json").json()
    assert [s["service_code"] for s in services][:2] == ["noise", "dust"]
    assert "10 个工作日" in services[0]["description"] and services[0]["metadata"] is True
    answer = anonymous.get(f"{V2}/services.xml")
    assert answer.headers["content-type"].startswith("text/xml")
    assert len(check_xml(answer.content, "services", "service", SERVICE)) == len(services)

    definition = anonymous.get(f"{V2}/services/noise.json").json()
    assert {a["code"] for a in definition["attributes"]} == {"sla", "priority"}
    xml = ET.fromstring(anonymous.get(f"{V2}/services/noise.xml").content)
    assert xml.tag == "service_definition"
    for attribute in xml.find("attributes") or []:
        assert {c.tag for c in attribute} - {"values"} <= ATTRIBUTE


def test_errors_are_open311_lists_with_the_same_status(anonymous: TestClient) -> None:
    unknown = anonymous.get(f"{V2}/services/nonsense.json")
    assert unknown.status_code == 404
    assert unknown.json()[0]["code"] == 404 and "nonsense" in unknown.json()[0]["description"]
    as_xml = anonymous.get(f"{V2}/services/nonsense.xml")
    assert as_xml.status_code == 404
    error = ET.fromstring(as_xml.content).find("error")
    assert error is not None and error.findtext("code") == "404"
    for query in (
        "status=sometimes",
        "start_date=yesterday",
        "extensions=maybe",
        "service_code=nonsense",
        "start_date=2020-01-01&end_date=2026-01-01",
        "start_date=0001-01-01T00:00:00%2B14:00",
        "end_date=0001-01-05",
        "service_request_id=R%00",
        f"service_code={'x' * 3000}",
    ):
        bad = anonymous.get(f"{V2}/requests.json?{query}")
        assert bad.status_code == 400, query
        assert list(bad.json()[0]) == ["code", "description"] and bad.json()[0]["code"] == 400
    assert anonymous.get(f"{V2}/requests/R2026999999.xml").status_code == 404


def test_a_post_needs_a_key_for_the_site_of_the_point(
    anonymous: TestClient, key: Callable[..., str], officers: Engine
) -> None:
    missing = post(anonymous)
    assert missing.status_code == 403 and "api_key" in missing.json()[0]["description"]
    assert post(anonymous, api_key="o311_wrong").status_code == 403
    elsewhere = post(anonymous, api_key=key((OTHER,)))
    assert elsewhere.status_code == 403 and SITE in elsewhere.json()[0]["description"]
    revoked = key()
    with officers.begin() as conn:
        open311.revoke_key(conn, revoked[:11], by=admin())
    assert post(anonymous, api_key=revoked).status_code == 403
    with officers.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM requests")).scalar_one() == 0
    too_big = post(anonymous, api_key=key(), description="噪" * 300_000)
    assert too_big.status_code == 413 and too_big.json()[0]["code"] == 413


def test_a_posted_request_reads_back_without_contacts(
    anonymous: TestClient, key: Callable[..., str], officers: Engine
) -> None:
    made = post(
        anonymous,
        "xml",
        api_key=key(),
        first_name="示例",
        last_name="赵某",
        phone="199-0000-0009",
        **{"attribute[priority]": "high"},
    )
    assert made.status_code == 201, made.text
    (created,) = check_xml(made.content, "service_requests", "request", REQUEST | {"token"})
    public_id = created.findtext("service_request_id")
    with officers.connect() as conn:
        row = conn.execute(
            text("SELECT channel, priority, reporter_phone FROM requests WHERE public_id = :p"),
            {"p": public_id},
        ).one()
    assert tuple(row) == ("open311", "high", "199-0000-0009")
    read = anonymous.get(f"{V2}/requests/{public_id}.json")
    (record,) = read.json()
    assert set(record) == REQUEST
    assert record["status"] == "open" and record["service_code"] == "noise"
    assert (record["lat"], record["long"]) == pytest.approx((30.267, 120.159))
    assert "199-0000" not in read.text and "赵某" not in read.text
    as_xml = anonymous.get(f"{V2}/requests.xml?service_code=noise&status=open")
    assert [
        r.findtext("service_request_id")
        for r in check_xml(as_xml.content, "service_requests", "request", REQUEST)
    ] == [public_id]
    assert anonymous.get(f"{V2}/requests.json?status=closed").json() == []
    token = anonymous.get(f"{V2}/tokens/{public_id}.json").json()
    assert token == [{"service_request_id": public_id, "token": public_id}]


def test_a_household_request_is_shown_at_its_community(
    homes: Engine, officers: Engine, anonymous: TestClient
) -> None:
    with officers.begin() as conn:
        household = conn.execute(text("SELECT min(id) FROM households")).scalar_one()
        public_id = cases.create(
            conn,
            officer(),
            cases.NewRequest(
                SITE, "noise", "visit", "楼下太吵", household=household, reporter_name="示例-王某"
            ),
        )
        community = conn.execute(
            text(
                "SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_PointOnSurface(geom) p "
                "FROM communities WHERE name = '翠苑一区') c"
            )
        ).one()
    answer = anonymous.get(f"{V2}/requests/{public_id}.json?extensions=true")
    (record,) = answer.json()
    assert (record["lat"], record["long"]) == pytest.approx(tuple(community))
    assert record["address"] == "翠苑一区" and record["address_id"] is None
    assert (
        "30.2688" not in answer.text and "示例" not in answer.text and "1-1-101" not in answer.text
    )


def test_a_point_at_a_household_is_generalised_too(
    homes: Engine, officers: Engine, anonymous: TestClient
) -> None:
    """A point given exactly at a household (or left there when a re-import unlinked the
    household) would name it as surely as the household itself."""
    with officers.begin() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM households ORDER BY id LIMIT 1")
        ).one()
        public_id = cases.create(
            conn,
            officer(),
            cases.NewRequest(SITE, "noise", "visit", "吵\x0b闹", lon=lon, lat=lat),
        )
    (record,) = anonymous.get(f"{V2}/requests/{public_id}.json").json()
    assert record["address"] == "翠苑一区"
    assert (record["lat"], record["long"]) != pytest.approx((lat, lon))
    xml = anonymous.get(f"{V2}/requests/{public_id}.xml")
    assert ET.fromstring(xml.content).findtext("request/description") == "吵闹"


def test_extensions_show_the_state_and_public_notes_only(
    officers: Engine, new_request: Callable[..., str], anonymous: TestClient
) -> None:
    public_id = new_request()
    with officers.begin() as conn:
        cases.add_note(conn, officer(), public_id, "已联系施工方，今晚停止夜间打桩", internal=False)
        cases.add_note(conn, officer(), public_id, "内部：施工方不配合", internal=True)
    plain = anonymous.get(f"{V2}/requests/{public_id}.json").json()[0]
    assert "extended_attributes" not in plain
    assert plain["status_notes"] == "已联系施工方，今晚停止夜间打桩"
    answer = anonymous.get(f"{V2}/requests.json?extensions=true&service_request_id={public_id}")
    extended = answer.json()[0]["extended_attributes"]
    assert extended["detailed_status"] == "new"
    assert [n["description"] for n in extended["public_notes"]] == [
        "已联系施工方，今晚停止夜间打桩"
    ]
    assert "内部" not in answer.text
    xml = anonymous.get(f"{V2}/requests/{public_id}.xml?extensions=true").content
    node = ET.fromstring(xml).find("request/extended_attributes/public_notes/note/description")
    assert node is not None and node.text == "已联系施工方，今晚停止夜间打桩"
    updates = anonymous.get(f"{V2}/servicerequestupdates.json").json()
    assert [(u["service_request_id"], u["status"]) for u in updates] == [(public_id, "open")]
    assert "内部" not in anonymous.get(f"{V2}/servicerequestupdates.xml").text
    assert "wang" not in answer.text


def test_keys_from_the_cli(officers: Engine, database_url: str, monkeypatch) -> None:
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    made = CliRunner().invoke(
        main, ["open311", "key", "create", "--label", "街道 App", "--sites", SITE]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("o311_")
    with officers.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM open311_keys")).scalar_one()
    assert stored == open311.key_digest(secret) and secret not in stored
    listed = CliRunner().invoke(main, ["open311", "key", "list"])
    assert "街道 App" in listed.output and SITE in listed.output and secret not in listed.output
    revoked = CliRunner().invoke(main, ["open311", "key", "revoke", secret[:11]])
    assert (
        revoked.exit_code == 0
        and "revoked" in CliRunner().invoke(main, ["open311", "key", "list"]).output
    )
    again = CliRunner().invoke(main, ["open311", "key", "revoke", secret[:11]])
    assert again.exit_code == 2


@pytest.fixture
def served(officers: Engine) -> Iterator[str]:
    with running_server(officers.url.render_as_string(False)) as root:
        yield root + V2


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_published_client_lists_services_and_reads_a_posted_request(
    served: str, key: Callable[..., str], fmt: str
) -> None:
    """georeport (PyPI) reads; it has no POST, so the post is a plain form, as the spec."""
    import httpx

    client = GeoReport(served, output_format=fmt)
    services = client.get_service_list()
    assert "noise" in [s["service_code"] for s in services]
    definition = client.get_service_definition("noise")
    assert definition["service_code"] == "noise"
    made = httpx.post(
        f"{served}/requests.json",
        data={
            "api_key": key(),
            "service_code": "dust",
            "lat": "30.267",
            "long": "120.159",
            "description": "工地扬尘大",
        },
    )
    assert made.status_code == 201, made.text
    public_id = made.json()[0]["service_request_id"]
    read = client.get_service_request(public_id)
    assert read["service_request_id"] == public_id and read["status"] == "open"
    assert read["service_code"] == "dust" and read["description"] == "工地扬尘大"
    listed = client.get_service_requests(service_code="dust", status="open")
    if fmt == "xml":  # xmltodict gives one request as a dict, several as a list
        listed = [listed] if isinstance(listed, dict) else listed
    assert [r["service_request_id"] for r in listed] == [public_id]
