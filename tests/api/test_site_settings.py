"""Two people editing one site's impact inputs: the second edit on a stale version is refused.

``GET /api/sites/{ref}/impact-settings`` gives an ``ETag``; ``PUT .../impact-settings`` and
``PUT .../equipment`` honour ``If-Match``: a stale one gets 412 and changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient

SITE = "AZF-2024-01"
SETTINGS = f"/api/sites/{SITE}/impact-settings"
EQUIPMENT = f"/api/sites/{SITE}/equipment"


def test_read_gives_an_etag_and_every_edit_moves_it(client: TestClient) -> None:
    first = client.get(SETTINGS)
    assert first.status_code == 200 and first.headers["ETag"].startswith('"')
    assert client.get(SETTINGS).headers["ETag"] == first.headers["ETag"]
    put = client.put(
        SETTINGS, json={"bands_m": [100, 300]}, headers={"If-Match": first.headers["ETag"]}
    )
    assert put.status_code == 200, put.text
    assert put.headers["ETag"] != first.headers["ETag"]
    assert client.get(SETTINGS).headers["ETag"] == put.headers["ETag"]
    lines = [{"equipment": "excavator", "phase": "earthworks", "count": 2}]
    equipment = client.put(EQUIPMENT, json=lines, headers={"If-Match": put.headers["ETag"]})
    assert equipment.status_code == 200, equipment.text
    assert equipment.headers["ETag"] not in (put.headers["ETag"], first.headers["ETag"])


def test_second_edit_with_the_same_etag_gets_412_and_the_first_survives(
    client: TestClient, client_as: Callable[..., TestClient]
) -> None:
    wang, li = client_as("planner"), client_as("planner")
    etag = wang.get(SETTINGS).headers["ETag"]
    assert li.get(SETTINGS).headers["ETag"] == etag

    first = wang.put(SETTINGS, json={"bands_m": [100, 250]}, headers={"If-Match": etag})
    second = li.put(SETTINGS, json={"bands_m": [30, 60]}, headers={"If-Match": etag})

    assert first.status_code == 200
    assert second.status_code == 412
    assert "changed since you read them" in second.json()["detail"]
    assert client.get(SETTINGS).json()["bands_m"] == [100, 250]
    stale_equipment = li.put(EQUIPMENT, json=[{"equipment": "crane"}], headers={"If-Match": etag})
    assert stale_equipment.status_code == 412
    assert client.get(SETTINGS).json()["equipment"] == wang.get(SETTINGS).json()["equipment"]


def test_concurrent_edits_with_the_same_etag_one_wins(
    client: TestClient, client_as: Callable[..., TestClient]
) -> None:
    """Sent at the same moment: the site row is locked, so exactly one edit is applied."""
    editors = [client_as("planner") for _ in range(4)]
    etag = client.get(SETTINGS).headers["ETag"]
    start = threading.Barrier(len(editors))
    answers: dict[int, int] = {}

    def edit(i: int) -> None:
        start.wait()
        answer = editors[i].put(
            SETTINGS, json={"bands_m": [50.0 * (i + 1), 500]}, headers={"If-Match": etag}
        )
        answers[i] = answer.status_code

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(len(editors))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    winners = [i for i, status in answers.items() if status == 200]
    assert len(winners) == 1 and sorted(answers.values()) == [200, 412, 412, 412]
    assert client.get(SETTINGS).json()["bands_m"] == [50.0 * (winners[0] + 1), 500]


def test_if_match_star_overwrites_and_a_missing_one_is_refused(client: TestClient) -> None:
    assert (
        client.put(SETTINGS, json={"bands_m": [50, 200]}, headers={"If-Match": "*"}).status_code
        == 200
    )
    blind = client.put(SETTINGS, json={"bands_m": [60, 200]})
    assert blind.status_code == 428 and "If-Match" in blind.json()["detail"]
    assert client.get(SETTINGS).json()["bands_m"] == [50, 200]
    assert client.get("/api/sites/NO-SUCH/impact-settings").status_code == 404
