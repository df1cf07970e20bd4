"""Every route of the app declares who may call it, and the declarations tell the truth.

The table is read from the routes' own dependencies (``geo_service.api.deps``), never from a
list of paths kept by hand: a route that declares no requirement fails here. ``pytest -s``
prints it; the README's table of requirements is checked against it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import groupby
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from geo_service.api.deps import requirement_of
from geo_service.main import create_app
from geo_service.settings import DatabaseSettings

README = Path(__file__).resolve().parents[2] / "README.md"
# Values for the path parameters, so that every route can be called.
PATH_VALUES = {
    "ref": "AZF-2024-01",
    "code": "XC1003-R21-02",
    "layer": "parcels",
    "username": "wang",
    "community_id": "1",
    "programme_id": "1",
    "case_id": "1",
    "collection_id": "parcels",
    "feature_id": "XC1003-R21-02",
    "household": "1",
    "mn": "010000A8900016F000169DC0",
    "public_id": "R2026000001",
    "site": "AZF-2024-01",
    "officer_id": "1",
    "member_id": "1",
    "visit_id": "1",
    "photo_id": "1",
    "wish_id": "1",
    "alarm_id": "1",
    "permit_id": "1",
    "kind": "visits",
    "z": "0",
    "x": "0",
    "y": "0",
    "ext": "png",
    "fmt": "json",
    "service_code": "noise",
    "service_request_id": "R2026000001",
    "token": "R2026000001",
    "entity_set": "Things",
    "key": "'010000A8900016F000169DC0'",
    "link": "Datastreams",
}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def route_table(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(path, methods, requirements) of every route, mounts and the documentation included."""
    rows = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            declared = requirement_of(route.original_route.app)
            rows.append((route.path + "/...", "GET", [declared] if declared else []))
            continue
        dependant = getattr(route, "dependant", None)  # a plain Starlette route has none
        found = {requirement_of(d.call) for d in _dependants(dependant)} if dependant else set()
        rows.append((route.path, ", ".join(sorted(route.methods)), sorted(found - {None})))
    return rows


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, list[str]]]:
    home = tmp_path_factory.mktemp("home")
    app = create_app(DatabaseSettings(database_url="postgresql://x@127.0.0.1:1/x", home=home))
    return route_table(app)


def _printed(table: list[tuple[str, str, list[str]]]) -> str:
    width = max(len(path) for path, _, _ in table)
    return "\n".join(
        f"{path:<{width}}  {methods:<9}  {' + '.join(req) or 'NONE'}"
        for path, methods, req in table
    )


def test_every_route_declares_one_requirement(table: list[tuple[str, str, list[str]]]) -> None:
    print("\n" + _printed(table))
    paths = {path for path, _, _ in table}

    # The walk sees the included routers, the documentation and the mounts.
    assert {"/", "/login", "/healthz", "/docs", "/openapi.json", "/ogc", "/maps/overview"} <= paths
    assert {"/static/maps/...", "/static/swagger/..."} <= paths
    assert len(table) > 40
    undeclared = [(path, methods) for path, methods, req in table if not req]
    assert undeclared == [], f"routes that declare no requirement: {undeclared}"
    doubled = [(path, req) for path, _, req in table if len(req) > 1]
    assert doubled == [], f"routes that declare more than one requirement: {doubled}"


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: PATH_VALUES[m.group(1)], path)


def _callable(table: list[tuple[str, str, list[str]]]) -> Iterator[tuple[str, str, str]]:
    """(method, url, requirement) of every API route, one request per method."""
    for path, methods, (requirement,) in table:
        if path.endswith("/..."):
            continue
        for method in methods.split(", "):
            yield method, _url(path), requirement


def test_anonymous_callers_get_401_from_every_route_not_public(
    table: list[tuple[str, str, list[str]]], anonymous: TestClient
) -> None:
    """With the default settings no layer is open to anonymous callers, so a route whose
    requirement is anything but plain "public" refuses them (browsers: the sign-in page)."""
    checked = 0
    for method, url, requirement in _callable(table):
        answer = anonymous.request(method, url)
        if requirement == "public":
            assert answer.status_code != 401, (method, url)
        else:
            assert answer.status_code == 401, (method, url, answer.status_code, requirement)
            if method != "HEAD":  # which has no body
                assert "sign in" in answer.json()["detail"]
            checked += 1
    assert checked > 30


def test_a_role_without_the_permission_gets_403_naming_it(
    table: list[tuple[str, str, list[str]]], client_as: Callable[..., TestClient]
) -> None:
    gis = client_as("gis")  # only read_public_layers
    checked = 0
    for method, url, requirement in _callable(table):
        if requirement in ("public", "signed in", "read_public_layers") or "," in requirement:
            continue
        answer = gis.request(method, url)
        assert answer.status_code == 403, (method, url, answer.status_code)
        assert answer.json()["detail"] == f"the gis role does not allow {requirement}"
        checked += 1
    assert checked >= 8


def _readme_table(table: list[tuple[str, str, list[str]]]) -> list[str]:
    """One line per requirement (public, signed in, then the permissions), its routes in the
    app's order, with their methods unless only GET."""
    methods: dict[tuple[str, str], list[str]] = {}
    for path, listed, (requirement,) in table:
        methods.setdefault((requirement, path), []).extend(listed.split(", "))

    def rank(requirement: str) -> tuple[int, str]:
        first = ("public", "signed in")
        return next((i for i, r in enumerate(first) if requirement.startswith(r)), 2), requirement

    lines = ["| Requirement | Routes |", "| --- | --- |"]
    keys = sorted(methods, key=lambda key: rank(key[0]))  # stable: the app's order within
    for requirement, group in groupby(keys, key=lambda key: key[0]):
        cells = []
        for _, path in group:
            verbs = sorted(set(methods[requirement, path]))
            cells.append(f"`{path}`" if verbs == ["GET"] else f"`{path}` ({', '.join(verbs)})")
        lines.append(f"| {requirement} | {', '.join(cells)} |")
    return lines


def test_the_readme_shows_the_route_table(table: list[tuple[str, str, list[str]]]) -> None:
    expected = _readme_table(table)
    readme = README.read_text().splitlines()
    start = readme.index(expected[0])

    assert readme[start : start + len(expected)] == expected, "\n".join(expected)
