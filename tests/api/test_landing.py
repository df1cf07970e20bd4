"""``/``: the landing page links to everything and counts every layer's rows."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from layers import LAYERS


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
