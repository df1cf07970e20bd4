"""The OGC API's HTML pages as people read them: breadcrumbs back to the landing page, a link
from every row of a table to its feature's page, and values written in the page's language
(labels for codes, 是/否, rounded numbers with units, dates in words, — for nothing), while
the JSON keeps the raw values."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

BASE = "/ogc"
PAGES = {
    "landing": f"{BASE}",
    "conformance": f"{BASE}/conformance",
    "collections": f"{BASE}/collections",
    "collection": f"{BASE}/collections/sites",
    "items": f"{BASE}/collections/sites/items",
    "feature": f"{BASE}/collections/sites/items/AZF-2024-01",
}
# The words of each page's trail, after 首页/Home, by language; the last is the page itself.
TRAILS = {
    "zh": {
        "landing": ["OGC API"],
        "conformance": ["OGC API", "符合的标准"],
        "collections": ["OGC API", "数据集"],
        "collection": ["OGC API", "数据集", "建设工地"],
        "items": ["OGC API", "数据集", "建设工地", "要素"],
        "feature": ["OGC API", "数据集", "建设工地", "要素", "AZF-2024-01"],
    },
    "en": {
        "landing": ["OGC API"],
        "conformance": ["OGC API", "Conformance"],
        "collections": ["OGC API", "Collections"],
        "collection": ["OGC API", "Collections", "Construction sites"],
        "items": ["OGC API", "Collections", "Construction sites", "Features"],
        "feature": ["OGC API", "Collections", "Construction sites", "Features", "AZF-2024-01"],
    },
}


def _crumbs(page: str) -> list[tuple[str, str | None]]:
    """The breadcrumbs as (words, href); href None for the page itself."""
    nav = re.search(r'<nav class="crumbs"[^>]*>(.*?)</nav>', page, re.S)
    assert nav, "no breadcrumbs"
    out = []
    for item in re.findall(r"<li>(.*?)</li>", nav.group(1), re.S):
        link = re.match(r'<a href="([^"]*)">(.*?)</a>', item)
        if link:
            out.append((html.unescape(link.group(2)), html.unescape(link.group(1))))
        else:
            current = re.match(r'<span aria-current="page">(.*?)</span>', item)
            assert current, item
            out.append((html.unescape(current.group(1)), None))
    return out


def _properties(page: str) -> dict[str, str]:
    """A feature page's values, by property name."""
    rows = re.findall(r'<tr><th title="([^"]+)">.*?</th><td>(.*?)</td></tr>', page, re.S)
    return {name: html.unescape(shown) for name, shown in rows}


def _rows(page: str) -> list[tuple[str, str, dict[str, str]]]:
    """An items page's rows: (id, link, values by property name)."""
    table = re.search(r'<table class="features">(.*?)</table>', page, re.S)
    assert table
    names = re.findall(r'<th title="([^"]+)">', table.group(1))
    out = []
    for href, fid, cells in re.findall(
        r'<tr><td class="fid"><a class="feature" href="([^"]+)">(.*?)</a></td>(.*?)</tr>',
        table.group(1),
        re.S,
    ):
        shown = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", cells, re.S)]
        out.append((html.unescape(fid), html.unescape(href), dict(zip(names, shown, strict=True))))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_has_breadcrumbs_back_to_the_landing_page(
    client: TestClient, name: str, lang: str
) -> None:
    page = client.get(PAGES[name], params={"f": "html", "lang": lang}).text

    crumbs = _crumbs(page)

    assert [words for words, _ in crumbs] == [
        "首页" if lang == "zh" else "Home",
        *TRAILS[lang][name],
    ]
    assert crumbs[-1][1] is None  # the page itself is no link
    assert crumbs[0][1] == f"/?lang={lang}"
    for words, href in crumbs[1:-1]:  # each step up is that page, as HTML, in this language
        assert href.endswith(f"?f=html&lang={lang}"), href
        up = client.get(href)
        assert up.status_code == 200 and up.headers["content-type"].startswith("text/html")
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in up.text
        assert _crumbs(up.text)[-1] == (words, None)


def test_computed_collections_are_titled_in_chinese_too(client: TestClient) -> None:
    """Impact zones, a view, had their English title on the Chinese pages."""
    listing = client.get(f"{BASE}/collections?f=html&lang=zh").text
    page = client.get(f"{BASE}/collections/impact_zones?f=html&lang=zh").text

    assert '<span class="primary">影响范围</span>' in listing
    assert "<title>影响范围</title>" in page
    assert _crumbs(page)[-1] == ("影响范围", None)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_row_links_to_its_feature_page_in_the_same_language(
    client: TestClient, lang: str
) -> None:
    """Parcel codes hold a slash (GS0201-R21/B1-05): the link still reaches the feature."""
    page = client.get(f"{BASE}/collections/parcels/items", params={"f": "html", "lang": lang})

    rows = _rows(page.text)

    assert sorted(fid for fid, _, _ in rows) == ["GS0201-R21/B1-05", "XC1003-R21-02"]
    for fid, href, values in rows:
        assert href.endswith(f"/collections/parcels/items/{fid}?f=html&lang={lang}")
        feature = client.get(href)
        assert feature.status_code == 200
        assert _crumbs(feature.text)[-1] == (fid, None)
        assert _properties(feature.text)["code"] == fid
        assert "code" not in values  # the code is the row's link, not a second column


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "zh",
            {
                "kind": "安置房",
                "status": "施工中",
                "progress_pct": "35%",
                "start_date": "2024年3月1日",
                "end_date": "2026年6月30日",
                "work_hours_start": "07:00",
                "work_hours_end": "20:00",
                "night_work_permitted": "否",
                "survey": "省勘察院",
            },
        ),
        (
            "en",
            {
                "kind": "Resettlement housing",
                "status": "Under construction",
                "progress_pct": "35%",
                "start_date": "Mar 1, 2024",
                "end_date": "Jun 30, 2026",
                "work_hours_start": "7:00\u202fAM",
                "work_hours_end": "8:00\u202fPM",
                "night_work_permitted": "No",
                "survey": "省勘察院",
            },
        ),
    ],
)
def test_a_site_reads_in_the_page_language_on_the_table_and_its_page(
    client: TestClient, district: Engine, lang: str, expected: dict[str, str]
) -> None:
    items = client.get(f"{BASE}/collections/sites/items", params={"f": "html", "lang": lang})
    feature = client.get(
        f"{BASE}/collections/sites/items/AZF-2024-01", params={"f": "html", "lang": lang}
    )

    row = {fid: values for fid, _, values in _rows(items.text)}

    for values in (row["AZF-2024-01"], _properties(feature.text)):
        assert {k: values[k] for k in expected} == expected
    road = row["ROAD-2024-07"]  # a planned road: no dates, no progress, no survey yet
    assert road["status"] == ("规划中" if lang == "zh" else "Planned")
    assert road["kind"] == ("道路" if lang == "zh" else "Road")
    assert road["progress_pct"] == road["start_date"] == road["survey"] == "—"

    with district.begin() as conn:
        conn.execute(text("UPDATE sites SET night_work_permitted = true"))
    again = client.get(f"{BASE}/collections/sites/items/AZF-2024-01?f=html&lang={lang}")
    assert _properties(again.text)["night_work_permitted"] == ("是" if lang == "zh" else "Yes")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_sites_parcels_link_to_the_parcels_pages(client: TestClient, lang: str) -> None:
    items = client.get(f"{BASE}/collections/sites/items?f=html&lang={lang}").text
    feature = client.get(f"{BASE}/collections/sites/items/AZF-2024-01?f=html&lang={lang}").text

    cells = [{fid: v for fid, _, v in _rows(items)}["AZF-2024-01"], _properties(feature)]

    for cell in (c["parcels"] for c in cells):
        link = re.fullmatch(r'<a href="([^"]+)">XC1003-R21-02</a>', cell)
        assert link, cell
        assert link.group(1).endswith(f"/parcels/items/XC1003-R21-02?f=html&lang={lang}")
        assert _crumbs(client.get(html.unescape(link.group(1))).text)[-1] == ("XC1003-R21-02", None)


def test_the_json_keeps_the_raw_values(client: TestClient) -> None:
    site = client.get(f"{BASE}/collections/sites/items/AZF-2024-01").json()["properties"]
    parcel = client.get(f"{BASE}/collections/parcels/items/XC1003-R21-02").json()["properties"]

    assert (site["kind"], site["status"], site["progress_pct"]) == (
        "resettlement_housing",
        "under_construction",
        35,
    )
    assert (site["start_date"], site["night_work_permitted"]) == ("2024-03-01", False)
    assert parcel["land_use"] == ["R21"] and isinstance(parcel["area_m2"], float)


@pytest.mark.parametrize(
    ("lang", "small", "large", "land_use"),
    [
        ("zh", "2,134 平方米", "4.27 公顷", "R21 二类居住用地（住宅用地）、B1 商业用地"),
        ("en", "2,134 m²", "4.27 ha", "R21 Class 2 residential (housing), B1 Commercial"),
    ],
)
def test_areas_are_rounded_in_square_metres_then_hectares_and_land_uses_named(
    client: TestClient, district: Engine, lang: str, small: str, large: str, land_use: str
) -> None:
    """Under 1 ha in whole square metres, from 1 ha in hectares; each land-use class by its
    GB 50137 name (``geo_service/reference/landuse_gb50137.csv``)."""
    with district.begin() as conn:  # the first parcel shrinks to about 2,134 m²
        conn.execute(
            text(
                "UPDATE parcels SET geom = ST_Multi(ST_MakeEnvelope("
                "120.1580, 30.2660, 120.1585, 30.2664, 4326)) WHERE code = 'XC1003-R21-02'"
            )
        )
    raw = {
        f["id"]: f["properties"]["area_m2"]
        for f in client.get(f"{BASE}/collections/parcels/items").json()["features"]
    }
    page = client.get(f"{BASE}/collections/parcels/items", params={"f": "html", "lang": lang})

    row = {fid: values for fid, _, values in _rows(page.text)}

    assert f"{raw['XC1003-R21-02']:,.0f}" == small.split()[0]
    assert f"{raw['GS0201-R21/B1-05'] / 10_000:.2f}" == large.split()[0]
    assert row["XC1003-R21-02"]["area_m2"] == small
    assert row["GS0201-R21/B1-05"]["area_m2"] == large
    assert row["GS0201-R21/B1-05"]["land_use"] == land_use


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_impact_zones_read_with_their_kind_band_metres_and_decibels(
    client: TestClient, homes: Engine, lang: str
) -> None:
    """A band by its number, radii in metres, a contour's limit in dB(A) and its class by
    its GB 3096 name (``geo_service/reference/noise.yaml``)."""
    zh = lang == "zh"
    band = client.get(
        f"{BASE}/collections/impact_zones/items/AZF-2024-01:band:2?f=html&lang={lang}"
    )
    day = client.get(f"{BASE}/collections/impact_zones/items/AZF-2024-01:day:2?f=html&lang={lang}")

    ring, contour = _properties(band.text), _properties(day.text)

    assert ring["kind"] == ("距离圈层" if zh else "Distance band")
    assert ring["band"] == ("第 2 圈" if zh else "Band 2")
    assert (ring["inner_m"], ring["outer_m"]) == (("50 米", "200 米") if zh else ("50 m", "200 m"))
    assert ring["limit_dba"] == ring["acoustic_class"] == "—"
    assert contour["kind"] == ("昼间噪声达标线" if zh else "Day noise-limit contour")
    assert contour["limit_dba"] == "60 dB(A)"  # class 2 by day
    assert contour["acoustic_class"] == (
        "2 类：商业金融、集市贸易或居住商业工业混杂"
        if zh
        else "Class 2: Mixed residential and commercial"
    )
    radius = client.get(f"{BASE}/collections/impact_zones/items/AZF-2024-01:day:2").json()
    metres = radius["properties"]["outer_m"]
    assert contour["outer_m"] == f"{metres:,.0f} {'米' if zh else 'm'}"


def test_communities_and_buildings_read_as_people_read_them(
    client: TestClient, district_households: Engine
) -> None:
    community = client.get(f"{BASE}/collections/communities/items?f=html&lang=en")
    building = client.get(f"{BASE}/collections/buildings/items/1?f=html&lang=zh")

    (_, _, values), *_ = _rows(community.text)

    assert values["acoustic_class"] == "Class 2: Mixed residential and commercial"
    shown = _properties(building.text)
    assert (shown["floors"], shown["households_count"]) == ("6", "3")
    assert shown["community"] == "翠苑一区"  # named, not numbered: no link to guess
    ids = re.search(r'<th class="fid" title="id">(.*?)</th>', community.text)
    assert ids and "Id" in ids.group(1)  # numbered features lead with their number


def test_household_pages_show_no_personal_field(
    client: TestClient, district_households: Engine
) -> None:
    """Readable values are the public fields' only: no name, phone or vulnerability flag,
    not even as 是/否."""
    listing = client.get(f"{BASE}/collections/households/items?f=html").text
    ((_, href, values), *_) = _rows(listing)
    one = client.get(href).text

    shown = {"building", "unit_label", "residents", "visited", "open_requests"}
    assert set(values) == shown and set(_properties(one)) == shown
    for page in (listing, one):
        assert "张三" not in page and "1380000000" not in page
        assert "elderly" not in page and "老人" not in page


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh", {"next": "下一页", "alternate": "本页的其他格式", "collection": "数据集说明"}),
        ("en", {"next": "Next page", "alternate": "This page in another format"}),
    ],
)
def test_links_say_where_they_lead_and_in_what_format(
    client: TestClient, lang: str, words: dict[str, str]
) -> None:
    """Not ``http://www.opengis.net/def/rel/ogc/1.0/queryables (application/schema+json)``:
    the rel stays in the link's title for those who know it."""
    page = client.get(f"{BASE}/collections/sites/items?f=html&limit=1&lang={lang}").text
    landing = client.get(f"{BASE}?f=html&lang={lang}").text

    listed = dict(re.findall(r'<li><a href="[^"]*" title="([^"]+)">(.*?)</a>', page))

    assert {rel: listed[rel] for rel in words} == words
    assert re.search(r'title="next">[^<]+</a> \(GeoJSON\)', page) is None  # next is HTML
    assert re.search(r'title="alternate">[^<]+</a> \(GeoJSON\)', page)
    docs = "接口文档" if lang == "zh" else "API documentation"
    assert re.search(rf'title="service-doc">{docs}</a> \(HTML page\)', landing)
