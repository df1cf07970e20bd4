"""Schemathesis against the app's own OpenAPI document: no input makes a 5xx.

Every operation of ``/openapi.json`` gets generated requests, valid and invalid by the
schema, with an administrator's token, in-process through ASGI on the seeded district;
``not_a_server_error`` must hold for each. Path parameters are random or, half of the
time, records that exist (so the handlers run past their 404). Bounded and seeded: a
fixed number of examples per operation, derandomized, so every run is the same and takes
well under a minute.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from geo_service.access import Principal
from geo_service.liaison.requests import NewRequest, create
from tests.accounts import make_user

EXAMPLES_PER_OPERATION = 60
OGC_EXAMPLES_PER_OPERATION = 25  # many operations (tiles, items, schemas): keep it short

# Pages that are not the API: sign-in posts a form and redirects, logout ends a session.
SKIPPED = {"/login", "/logout"}

# Records of the seeded district (tests/api/conftest.py), by path parameter name.
EXISTING = {
    "ref": ["AZF-2024-01", "ROAD-2024-07", "1"],
    "code": ["XC1003-R21-02", "GS0201-R21/B1-05"],
    "community_id": [1],
    "username": ["wang"],
    "site": ["AZF-2024-01", "ROAD-2024-07"],
    "officer_id": [1],
    "member_id": [1],
    "layer": ["households", "sites", "parcels", "communities", "buildings"],
    "collection_id": ["parcels", "sites", "households", "impact_zones"],
    "feature_id": ["XC1003-R21-02", "AZF-2024-01", "1"],
    # The SensorThings API: the district's monitor as a Thing, and what it links to.
    "entity_set": ["Things", "Datastreams", "Sensors"],
    "key": ["'AZF202401-01'", "'AZF202401-01:a34002'"],
    "link": ["Datastreams", "Observations", "Thing", "name"],
    # The WebMercatorQuad tile over the district at zoom 16.
    "z": [16],
    "x": [54642],
    "y": [26982],
}


def _cases(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    """Valid and invalid requests, on random and on existing records."""
    names = [p.name for p in operation.path_parameters]
    strategies = []
    for mode in GenerationMode:
        strategies.append(operation.as_strategy(generation_mode=mode))
        if names and all(name in EXISTING for name in names):
            strategies.extend(
                operation.as_strategy(
                    generation_mode=mode,
                    path_parameters={n: EXISTING[n][i % len(EXISTING[n])] for n in names},
                )
                for i in range(max(len(EXISTING[n]) for n in names))
            )
    return st.one_of(strategies)


def _fuzz(
    operation: schemathesis.APIOperation,
    headers: dict[str, str],
    examples: int = EXAMPLES_PER_OPERATION,
) -> None:
    @hypothesis.given(case=_cases(operation))
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()


def test_no_operation_answers_with_a_server_error(
    client: TestClient, app: FastAPI, district: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(district, "wang", "liaison", sites=["AZF-2024-01"])
    with district.begin() as conn:  # a request, so that its routes run past their 404
        wang = Principal(role="liaison", username="wang", site_ids=frozenset({1}))
        new = NewRequest(
            site="AZF-2024-01",
            category="noise",
            channel="web",
            description="噪声",
            lon=120.159,
            lat=30.267,
        )
        monkeypatch.setitem(EXISTING, "public_id", [create(conn, wang, new)])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": client.headers["Authorization"]}
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().path not in SKIPPED
    ]
    assert len(operations) >= 10, "the OpenAPI document lists the API"
    failures: list[str] = []
    for operation in operations:
        try:
            _fuzz(operation, headers)
        except Exception as exc:  # every failing operation is reported, not just the first
            failures.append(f"{operation.label}: {exc}")
    if failures:
        pytest.fail("\n\n".join(failures))


def test_no_ogc_operation_answers_with_a_server_error(
    client: TestClient, app: FastAPI, district: Engine
) -> None:
    """The OGC API's own OpenAPI document (``/ogc/api``), fuzzed the same way."""
    schema = schemathesis.openapi.from_asgi("/ogc/api", app)
    headers = {"Authorization": client.headers["Authorization"]}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OGC API lists its operations"
    failures: list[str] = []
    for operation in operations:
        try:
            _fuzz(operation, headers, OGC_EXAMPLES_PER_OPERATION)
        except Exception as exc:  # every failing operation is reported, not just the first
            failures.append(f"{operation.label}: {exc}")
    if failures:
        pytest.fail("\n\n".join(failures))


# Issue 11, points 9 and 10, as schemathesis cases: the inputs that were server errors, on
# every operation that takes them, and every JSON body's lists made far too long.
HOSTILE_QUERIES = [
    {"filter": "geometry = 'x'"},
    {"filter": "unit_label = 5"},
    {"filter": "residents = 'x'"},
    {"filter": "S_INTERSECTS(geometry,POLYGON((120 30,121 30,121 31,120 31)))"},
    {"bbox": "-1e12,-1e12,1e12,1e12", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4549"},
    {"bbox": "170,-10,-170,10"},
    {"limit": "99999999999999999999"},
    {"datetime": "2024-01-01T/.."},
]
HOSTILE_IDS = ["²", "١٢", "𝟙", "%00", "../..", "x" * 5000]
TOO_LONG = 100_001


def _too_long(value: object) -> object:
    """The body with each list grown to ``TOO_LONG`` items of its first (or a number)."""
    if isinstance(value, list):
        return [value[0] if value else 1] * TOO_LONG
    if isinstance(value, dict):
        return {k: _too_long(v) for k, v in value.items()}
    return value


def _hostile_cases(operation: schemathesis.APIOperation) -> list[schemathesis.Case]:
    names = [p.name for p in operation.path_parameters]
    queries = {p.name for p in operation.query}
    existing = {n: EXISTING.get(n, ["1"])[0] for n in names}
    cases = []
    for query in HOSTILE_QUERIES:
        if set(query) <= queries:
            cases.append(operation.Case(path_parameters=existing, query=query))
    for name in names:
        cases.extend(
            operation.Case(path_parameters={**existing, name: value}) for value in HOSTILE_IDS
        )
    if any(b.media_type == "application/json" for b in operation.body):
        example = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
        body = hypothesis.find(
            example,
            lambda c: isinstance(c.body, (dict, list)) and bool(c.body),
            settings=hypothesis.settings(
                max_examples=50,
                derandomize=True,
                database=None,
                phases=[hypothesis.Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        ).body
        cases.append(
            operation.Case(
                path_parameters=existing, body=_too_long(body), media_type="application/json"
            )
        )
    return cases


def test_the_inputs_that_were_server_errors_are_refused_on_every_operation(
    client: TestClient, app: FastAPI, district: Engine
) -> None:
    headers = {"Authorization": client.headers["Authorization"], "If-Match": "*"}
    failures: list[str] = []
    tried = 0
    for document in ("/openapi.json", "/ogc/api"):
        schema = schemathesis.openapi.from_asgi(document, app)
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path in SKIPPED:
                continue
            for case in _hostile_cases(operation):
                tried += 1
                try:
                    case.call_and_validate(headers=headers, checks=[not_a_server_error])
                except Exception as exc:  # report every one
                    failures.append(f"{operation.label} {case.path_parameters} {exc}")
    assert tried > 100, tried
    if failures:
        pytest.fail("\n\n".join(failures))
