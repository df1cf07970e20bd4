"""The language a person picks is kept across pages: the maps, /docs and the OGC pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from layers import get_layer

PAGE = {"Accept": "text/html"}


def test_a_picked_language_is_kept_in_a_cookie_for_every_page(client: TestClient) -> None:
    assert '<html lang="zh-CN">' in client.get("/", headers=PAGE).text
    picked = client.get("/?lang=en", headers=PAGE)
    assert picked.cookies.get("lang") == "en"
    # The client keeps the cookie, as a browser does: no ?lang= from here on.
    assert '<html lang="en">' in client.get("/", headers=PAGE).text
    assert '<html lang="en">' in client.get("/login", headers=PAGE).text
    ogc = client.get("/ogc/collections/sites/items?f=html").text
    sites = get_layer("sites")
    assert '<html lang="en">' in ogc and f"<title>{sites.title_en}</title>" in ogc
    assert f'<span class="primary">{sites.field("code").label_en}</span>' in ogc
    docs = client.get("/docs").text
    assert '<html lang="en">' in docs and "Site-impact service · API documentation" in docs
    assert client.get("/maps/overview", headers=PAGE).headers.get("set-cookie") is None
    client.get("/maps/overview?lang=zh", headers=PAGE)
    assert client.cookies.get("lang") == "zh"
    ogc = client.get("/ogc/collections?f=html").text
    assert '<html lang="zh-CN">' in ogc and "<title>数据集</title>" in ogc
    assert "工地周边影响服务 · 接口文档" in client.get("/redoc").text
    assert '<html lang="en">' in client.get("/ogc?f=html&lang=en").text


def test_a_language_in_the_link_wins_over_the_cookie(client: TestClient) -> None:
    chosen = {**PAGE, "Cookie": "lang=en"}
    answer = client.get("/?lang=zh", headers=chosen)
    assert '<html lang="zh-CN">' in answer.text
    assert answer.headers["set-cookie"].startswith("lang=zh;")
    assert "set-cookie" not in client.get("/?lang=en", headers=chosen).headers
    # Only pages keep a pick: a script's English CSV changes nobody's pages.
    assert "set-cookie" not in client.get("/api/sites?lang=en").headers
