"""``/docs`` works offline: Swagger UI and its assets come from this service."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

EXTERNAL = re.compile(r"""(https?:)?//[^\s"'<>]+""")


def test_docs_page_references_no_external_url(client: TestClient) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    assert EXTERNAL.findall(page.text) == []
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    assert "/static/swagger/swagger-ui.css" in page.text


def test_docs_assets_are_served_locally(client: TestClient) -> None:
    script = client.get("/static/swagger/swagger-ui-bundle.js")
    style = client.get("/static/swagger/swagger-ui.css")

    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")


def test_redoc_references_no_external_url(client: TestClient) -> None:
    page = client.get("/redoc")

    assert page.status_code == 200
    assert EXTERNAL.findall(page.text) == []


def test_openapi_lists_the_domain_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json")

    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"/healthz", "/api/sites", "/api/sites/{ref}", "/api/parcels/{code}"} <= set(paths)


def test_the_documentation_follows_the_page_language(client: TestClient) -> None:
    """Its ``<html lang>``, its title and the description it opens with; the document a
    program reads without asking a language stays the English one."""
    import geo_service

    for lang, html_lang in (("zh", "zh-CN"), ("en", "en")):
        for page in ("/docs", "/redoc"):
            text = client.get(page, params={"lang": lang}).text
            assert f'<html lang="{html_lang}">' in text, page
            assert f"/openapi.json?lang={lang}" in text, page
    chinese = client.get("/openapi.json", params={"lang": "zh"}).json()["info"]
    english = client.get("/openapi.json", params={"lang": "en"}).json()["info"]
    plain = client.get("/openapi.json").json()["info"]

    assert chinese["description"].startswith("工地周边影响服务")
    assert english["description"] == plain["description"] == geo_service.__doc__
    assert chinese["title"] == plain["title"]
