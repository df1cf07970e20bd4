"""Visit photos: taken by what they are (not their name), stored without any metadata (GPS
above all), refused with a clear 4xx when they are not an image, too large or a
decompression bomb (nothing stored), and shown only to those who read the visit's notes."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from geo_service.liaison import visits
from geo_service.main import create_app
from geo_service.settings import DatabaseSettings, LiaisonSettings
from tests.accounts import bearer, issue_token
from tests.liaison.conftest import OTHER, SITE, officer

GPS_IFD, MAKE, ORIENTATION = 0x8825, 0x010F, 0x0112


@pytest.fixture
def visit(homes: Engine) -> int:
    with homes.begin() as conn:
        household = conn.execute(text("SELECT min(id) FROM households")).scalar_one()
        return visits.log(
            conn,
            officer(),
            visits.NewVisit(
                site=SITE,
                household=household,
                outcome="met",
                visited_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                notes="示例：门口堆放建材",
            ),
        )


def _jpeg_with_gps(size: tuple[int, int] = (64, 48), orientation: int | None = None) -> bytes:
    """A JPEG as a phone writes it: the maker, and where it was taken (West Lake)."""
    exif = Image.Exif()
    exif[MAKE] = "ExamplePhone"
    exif[GPS_IFD] = {1: "N", 2: (30.0, 15.0, 33.5), 3: "E", 4: (120.0, 9.0, 27.1)}
    if orientation:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, "JPEG", exif=exif, comment=b"by ExamplePhone")
    return out.getvalue()


def _png(size: tuple[int, int] = (30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 120, 200, 128)).save(out, "PNG")
    return out.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes that says it is ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _upload(who: TestClient, visit: int, data: bytes, name: str = "photo.jpg"):
    return who.post(f"/api/visits/{visit}/photos", files={"file": (name, data, "image/jpeg")})


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM visit_photos")).scalar_one()


def test_a_photo_comes_back_without_any_exif(
    visit: int, homes: Engine, client_as: Callable[..., TestClient]
) -> None:
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test's premise
    wang = client_as("liaison", sites=[SITE])
    answer = _upload(wang, visit, original)
    assert answer.status_code == 201, answer.text
    photo = answer.json()
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/jpeg", 64, 48)
    served = wang.get(f"/api/visits/{visit}/photos/{photo['id']}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert "no-store" in served.headers["cache-control"]
    image = Image.open(io.BytesIO(served.content))
    assert image.format == "JPEG" and image.size == (64, 48)
    assert dict(image.getexif()) == {} and "exif" not in image.info
    assert b"Exif" not in served.content and b"ExamplePhone" not in served.content
    assert image.getpixel((32, 24)) == pytest.approx((200, 80, 40), abs=3)
    listed = wang.get(f"/api/visits/{visit}/photos").json()["photos"]
    assert [p["id"] for p in listed] == [photo["id"]] and "data" not in listed[0]
    with homes.connect() as conn:
        reads = conn.execute(
            text("SELECT target FROM audit_log WHERE action = 'read_personal' ORDER BY id")
        ).scalars()
        assert list(reads) == [f"visit_photo:{photo['id']}"]


def test_the_photo_is_turned_upright_before_its_orientation_tag_goes(
    visit: int, client_as: Callable[..., TestClient]
) -> None:
    answer = _upload(client_as("liaison", sites=[SITE]), visit, _jpeg_with_gps((40, 20), 6))
    assert (answer.json()["width"], answer.json()["height"]) == (20, 40)


def test_the_content_decides_the_type_not_the_name(
    visit: int, homes: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    disguised = _upload(wang, visit, _png(), name="IMG_0001.jpg")
    assert disguised.status_code == 201, disguised.text
    assert disguised.json()["content_type"] == "image/png"
    served = wang.get(f"/api/visits/{visit}/photos/{disguised.json()['id']}")
    assert served.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).mode == "RGBA"
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    refused = {
        "html": b"<html><script>alert(1)</script></html>",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "gif": gif.getvalue(),
        "damaged jpeg": _jpeg_with_gps()[:300],
        "empty": b"",
    }
    for name, data in refused.items():
        answer = _upload(wang, visit, data)
        assert answer.status_code == 415, f"{name}: {answer.status_code} {answer.text}"
        assert (
            "JPEG, PNG or WebP" in answer.text
            or "damaged" in answer.text
            or "empty" in (answer.text)
        ), f"{name}: {answer.text}"
    assert _stored(homes) == 1


def test_decompression_bombs_are_refused_before_they_are_decoded(
    visit: int, homes: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    for width, height in ((8000, 6000), (30000, 30000)):
        bomb = _png_header(width, height)
        assert len(bomb) < 50_000
        answer = _upload(wang, visit, bomb, name="bomb.png")
        assert answer.status_code == 413, answer.text
        assert "pixels" in answer.json()["detail"]
    assert _stored(homes) == 0


@pytest.fixture
def small_limits(homes: Engine, service_database_url: str) -> Iterator[TestClient]:
    """An officer's client of an app taking photos of at most 50 KiB and 1 megapixel."""
    app = create_app(
        DatabaseSettings(database_url=service_database_url),
        liaison=LiaisonSettings(photo_max_mb=0.05, photo_max_pixels=1_000_000),
    )
    with TestClient(app) as client:
        client.headers.update(bearer(issue_token(homes, "liaison", sites=[SITE])))
        yield client


def test_too_large_photos_are_refused_and_nothing_is_stored(
    visit: int, homes: Engine, small_limits: TestClient
) -> None:
    noise = io.BytesIO()
    Image.effect_noise((400, 400), 80).convert("RGB").save(noise, "PNG")
    assert len(noise.getvalue()) > 0.05 * 2**20
    large = _upload(small_limits, visit, noise.getvalue(), name="noise.png")
    assert large.status_code == 413 and "0.05 MiB" in large.json()["detail"], large.text
    many_pixels = io.BytesIO()
    Image.new("L", (1200, 1000)).save(many_pixels, "PNG")  # small file, 1.2 megapixels
    bomb = _upload(small_limits, visit, many_pixels.getvalue(), name="flat.png")
    assert bomb.status_code == 413 and "1,000,000 pixels" in bomb.json()["detail"], bomb.text
    assert _stored(homes) == 0
    assert _upload(small_limits, visit, _jpeg_with_gps()).status_code == 201


def test_photos_are_shown_to_readers_of_visit_notes_only(
    visit: int, homes: Engine, client_as: Callable[..., TestClient], anonymous: TestClient
) -> None:
    wang = client_as("liaison", sites=[SITE])
    photo = _upload(wang, visit, _jpeg_with_gps()).json()["id"]
    one = f"/api/visits/{visit}/photos/{photo}"
    expect = {
        "admin": (201, 200),
        "liaison-other": (403, 404),
        "member-own": (403, 403),
        "planner": (403, 403),
        "gis": (403, 404),
    }
    for role, (post, read) in expect.items():
        kind, _, whose = role.partition("-")
        who = client_as(kind, sites=[SITE] if whose == "own" else [OTHER] if whose else [])
        assert _upload(who, visit, _png()).status_code == post, role
        assert who.get(one).status_code == read, role
        assert who.get(f"/api/visits/{visit}/photos").status_code == read, role
    assert anonymous.get(one).status_code == 401
    assert _upload(anonymous, visit, _png()).status_code == 401
    assert wang.get(f"/api/visits/{visit}/photos/999999").status_code == 404
    assert _upload(wang, 999_999, _png()).status_code == 404
    not_multipart = wang.post(f"/api/visits/{visit}/photos", content=_png())
    assert not_multipart.status_code == 400 and "multipart" in not_multipart.text
    wrong_field = wang.post(
        f"/api/visits/{visit}/photos", files={"photo": ("a.png", _png(), "image/png")}
    )
    assert wrong_field.status_code == 400 and "'file'" in wrong_field.text
