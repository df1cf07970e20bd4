"""``/``: the landing page links to everything and counts every layer's rows."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from layers import LAYERS
from tests.accounts import PASSWORD, make_user


def test_landing_page_links_to_maps_docs_ogc_and_health(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for target in ("/maps/overview", "/docs", "/ogc", "/healthz"):
        assert f'href="{target}"' in response.text


def test_landing_page_names_every_layer_with_its_row_count(client: TestClient) -> None:
    page = client.get("/").text

    for layer in LAYERS.values():
        assert layer.title_zh in page
        assert layer.title_en in page
    rows = dict(re.findall(r'<tr id="layer-(\w+)">.*?<td class="rows">([^<]*)</td>', page, re.S))
    assert rows["parcels"] == "2"
    assert rows["sites"] == "2"
    assert rows["communities"] == "1"
    assert rows["households"] == "0"


def test_landing_page_is_chinese_first_and_english_on_request(client: TestClient) -> None:
    chinese = client.get("/").text
    english = client.get("/", params={"lang": "en"}).text

    assert '<html lang="zh-CN">' in chinese
    assert '<span class="primary">工地周边影响服务</span>' in chinese
    assert '<html lang="en">' in english
    assert '<span class="primary">Site-impact service</span>' in english
    assert client.get("/", params={"lang": "fr"}).status_code == 422


def test_landing_page_loads_nothing_from_outside(client: TestClient) -> None:
    page = client.get("/").text

    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page


def test_landing_page_counts_only_what_the_reader_may_read(
    anonymous: TestClient, client_as
) -> None:
    def rows(page: str) -> dict[str, str]:
        found = re.findall(r'<tr id="layer-(\w+)">.*?<td class="rows">([^<]*)</td>', page, re.S)
        return dict(found)

    stranger = anonymous.get("/").text
    gis = rows(client_as("gis").get("/").text)

    assert set(rows(stranger).values()) == {"—"}
    assert 'href="/login"' in stranger
    assert gis["parcels"] == "2" and gis["households"] == "—"


def _site_rows(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr id="site-([\w-]+)">(.*?)</tr>', page, re.S))


def test_a_liaison_officer_sees_who_they_are_and_their_own_sites_with_affected_counts(
    anonymous: TestClient, district, homes
) -> None:
    make_user(district, "wang", "liaison", sites=["AZF-2024-01"])
    signed_in = anonymous.post("/login", data={"username": "wang", "password": PASSWORD})
    assert signed_in.status_code == 303

    page = anonymous.get("/").text

    assert re.search(r'id="who-name">wang<', page)
    assert re.search(r'id="who-role">联络人员<', page)
    assert '<form method="post" action="/logout">' in page and 'id="sign-out"' in page
    assert "我的工地" in page
    sites = _site_rows(page)
    assert list(sites) == ["AZF-2024-01"]  # not the road works, which are not theirs
    assert re.search(r'class="num affected">3<', sites["AZF-2024-01"])
    assert "施工中" in sites["AZF-2024-01"]
    assert 'href="/maps/sites/AZF-2024-01"' in sites["AZF-2024-01"]
    # Every link on the page opens for this reader: none answers 401 or 403.
    for href in set(re.findall(r'href="(/[^"]*)"', page)):
        assert anonymous.get(href).status_code in (200, 303), href

    english = anonymous.get("/", params={"lang": "en"}).text
    assert re.search(r'id="who-role">Liaison officer<', english) and "Your sites" in english

    anonymous.post("/logout")
    assert 'id="who-name"' not in anonymous.get("/").text


def test_a_planner_sees_every_site_with_status_and_progress_and_its_map(
    client_as, district
) -> None:
    page = client_as("planner").get("/").text

    sites = _site_rows(page)
    assert list(sites) == ["AZF-2024-01", "ROAD-2024-07"]
    assert "全部工地" in page
    assert "35%" in sites["AZF-2024-01"] and "施工中" in sites["AZF-2024-01"]
    assert "—" in sites["ROAD-2024-07"] and "规划中" in sites["ROAD-2024-07"]
    assert 'href="/maps/sites/ROAD-2024-07"' in sites["ROAD-2024-07"]
    assert 'id="who-role">规划人员<' in page
    assert 'id="sign-out"' not in page  # a token has no session to end


def test_no_link_on_the_landing_page_answers_403_for_any_role(
    anonymous: TestClient, client_as, district
) -> None:
    readers = {"anonymous": anonymous, **{r: client_as(r) for r in ("gis", "planner", "admin")}}
    readers["liaison"] = client_as("liaison", sites=["AZF-2024-01"])
    for role, reader in readers.items():
        page = reader.get("/").text
        for href in set(re.findall(r'href="(/[^"?#]*)', page)):
            status = reader.get(href).status_code
            assert status not in (401, 403), (role, href, status)
    gis = client_as("gis").get("/").text
    assert "/maps/sites/" not in gis  # a GIS tool reads public layers, not households
    assert "全部工地" in gis
