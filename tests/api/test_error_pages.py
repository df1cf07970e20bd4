"""Errors a person sees: a page in their language naming the site by its code, with what to
do instead and a way back; API clients keep the JSON error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
OTHER_SITE = "ROAD-2024-07"  # the district's second site, row id 2


@pytest.fixture
def liaison(client_as: Callable[..., TestClient], homes: Engine) -> TestClient:
    """The liaison officer of the housing site only."""
    return client_as("liaison", sites=["AZF-2024-01"])


def test_another_sites_map_is_a_page_naming_the_site_by_its_code(liaison: TestClient) -> None:
    answer = liaison.get(f"/maps/sites/{OTHER_SITE}", headers=PAGE)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="zh-CN">' in page and "无权查看" in page and OTHER_SITE in page
    assert "请管理员把该工地分配给您" in page and 'href="/"' in page
    assert "site 2" not in page and "<script" not in page
    english = liaison.get(f"/maps/sites/{OTHER_SITE}?lang=en", headers=PAGE)
    assert english.status_code == 403 and "Not allowed" in english.text
    assert "Ask the administrator to assign the site to you" in english.text
    assert english.cookies.get("lang") == "en"


def test_api_clients_keep_the_json_error_with_the_code(liaison: TestClient) -> None:
    answer = liaison.get(f"/api/sites/{OTHER_SITE}/households")
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "Forbidden",
        "detail": f"the liaison role may not see households of site {OTHER_SITE} "
        "(it is not assigned to you)",
    }
    assert liaison.get("/maps/sites/NOPE-01").json()["error"] == "NotFound"


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/maps/sites/NOPE-01", 404, ("找不到该页面", "NOPE-01", "没有这个编号的工地")),
        ("/api/sites/NOPE-01/households", 404, ("找不到该页面", "NOPE-01")),
        ("/no/such/page", 404, ("找不到该页面", "返回首页")),
        ("/ogc/collections/nope/items?f=html", 404, ("找不到该页面",)),
        ("/maps/overview?basemap=nope", 400, ("请求有误", "basemap")),
        ("/maps/overview?lang=fr", 422, ("请求有误",)),
    ],
)
def test_every_kind_of_refusal_is_a_page_for_a_browser(
    client: TestClient, path: str, status: int, words: tuple[str, ...]
) -> None:
    answer = client.get(path, headers=PAGE)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    for word in words:
        assert word in answer.text
    as_json = client.get(path.replace("f=html", "f=json"))
    assert as_json.headers["content-type"].startswith(("application/json", "application/problem"))


def test_an_ogc_page_asked_with_f_html_without_signing_in_offers_the_sign_in(
    anonymous: TestClient,
) -> None:
    answer = anonymous.get("/ogc/collections/households/items?f=html")
    assert answer.status_code == 401 and "请先登录" in answer.text
    assert 'href="/login?next=/ogc/collections/households/items%3Ff%3Dhtml"' in answer.text


def test_database_down_is_a_page_for_a_browser(client_for: Callable[[str], TestClient]) -> None:
    with client_for("postgresql+psycopg2://nobody:secret@127.0.0.1:1/nowhere") as client:
        answer = client.get("/", headers=PAGE)
        english = client.get("/", headers=PAGE, cookies={"lang": "en"})
    assert answer.status_code == 503 and "服务暂时不可用" in answer.text
    assert "secret" not in answer.text
    assert english.status_code == 503 and '<html lang="en">' in english.text
    assert "Service unavailable" in english.text
