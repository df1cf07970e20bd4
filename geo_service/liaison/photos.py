"""Photos of a visit: checked by what they are, stripped of what they say about where and
when, stored beside the visit, shown only to those who read its notes.

A photo is accepted when Pillow decodes it as JPEG, PNG or WebP; the file's name and the
Content-Type the client sent are not looked at (a PNG sent as ``photo.jpg`` is stored and
served as the PNG it is; an SVG or HTML page sent as ``image/jpeg`` is refused). The size
in pixels is read from the header before anything is decoded, so a decompression bomb
(a few kilobytes that decode to gigabytes) is refused before it costs memory.

Then the pixels are re-encoded into a new image that carries no metadata at all: EXIF
(the GPS position of the doorstep, the phone's model, the time), XMP, IPTC and comments are
gone, not filtered. The EXIF orientation is applied first, so the photo still stands up.
The longest side is brought down to ``photo_max_side_px``.

Stored in the database (``visit_photos.data``), not on disk: the photo is written in the
same transaction as its audit row, read through the same access check as the visit notes,
backed up with the database, and purged by the retention rule in the same statement as the
notes, with no second store whose paths, permissions and clean-up must be kept in step. At
the default limits a photo is a few hundred kilobytes once re-encoded; PostgreSQL keeps
such values out of line (TOAST), so listing visits never reads them.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.errors import Forbidden, NotFound, UnsupportedFile, UploadTooLarge
from geo_service.liaison.requests import site_for_work
from geo_service.settings import LiaisonSettings

# Pillow's format name -> what is stored and served, and how it is written again.
FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    "JPEG": ("image/jpeg", {"quality": 88, "optimize": True}),
    "PNG": ("image/png", {"optimize": True}),
    "WEBP": ("image/webp", {"quality": 85}),
}


@dataclass(frozen=True)
class CleanPhoto:
    content_type: str
    width: int
    height: int
    data: bytes


def _open(data: bytes, settings: LiaisonSettings) -> Image.Image:
    """The image, its header read (not its pixels), when it is one we take."""
    try:
        with warnings.catch_warnings():  # the size is checked below, against our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except Image.DecompressionBombError:
        raise UploadTooLarge(
            f"the image decodes to more than {settings.photo_max_pixels:,} pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedFile(
            "the file is not a JPEG, PNG or WebP image (its content was read, not its name)"
        ) from None
    width, height = image.size
    if width * height > settings.photo_max_pixels:
        raise UploadTooLarge(
            f"the image is {width} x {height} pixels; at most "
            f"{settings.photo_max_pixels:,} pixels are taken"
        )
    return image


def clean(data: bytes, settings: LiaisonSettings) -> CleanPhoto:
    """The photo decoded, turned upright, scaled down and re-encoded without metadata."""
    if len(data) > settings.photo_max_mb * 2**20:
        raise UploadTooLarge(f"the photo is over the limit of {settings.photo_max_mb:g} MiB")
    if not data:
        raise UnsupportedFile("the photo is empty")
    image = _open(data, settings)
    kind = str(image.format)
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UnsupportedFile(f"the {kind} image is damaged and cannot be decoded") from None
    image = _plain(image, kind)
    image.thumbnail((settings.photo_max_side_px, settings.photo_max_side_px))
    content_type, options = FORMATS[kind]
    out = io.BytesIO()
    image.save(out, kind, **options)
    return CleanPhoto(content_type, image.width, image.height, out.getvalue())


def _plain(image: Image.Image, kind: str) -> Image.Image:
    """The pixels alone, in a new image: nothing of the original's ``info`` (EXIF, XMP,
    ICC, comments, text chunks) can reach the encoder."""
    modes = {"JPEG": ("RGB", "L"), "PNG": ("RGB", "RGBA", "L", "LA"), "WEBP": ("RGB", "RGBA")}
    if image.mode not in modes[kind]:
        alpha = kind != "JPEG" and ("A" in image.getbands() or "transparency" in image.info)
        image = image.convert("RGBA" if alpha else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _visit(conn: Connection, visit_id: int) -> Any:
    row = conn.execute(
        text("SELECT v.id, v.site_id FROM visits v WHERE v.id = :id"), {"id": visit_id}
    ).first()
    if row is None:
        raise NotFound(f"no visit has the id {visit_id}")
    return row


def visit_site(conn: Connection, visit_id: int) -> int:
    """The id of the visit's site (before an upload is read: whose is it?)."""
    return int(_visit(conn, visit_id).site_id)


def attach(
    conn: Connection, principal: Principal, visit_id: int, photo: CleanPhoto
) -> dict[str, Any]:
    """Store a cleaned photo with a visit of a site the principal works."""
    visit = _visit(conn, visit_id)
    site_for_work(conn, principal, visit.site_id)
    row = (
        conn.execute(
            text("""
INSERT INTO visit_photos (visit_id, content_type, width, height, bytes, data, uploaded_by)
VALUES (:visit, :type, :w, :h, :n, :data, :by)
RETURNING id, visit_id, content_type, width, height, bytes, created_at"""),
            {
                "visit": visit_id,
                "type": photo.content_type,
                "w": photo.width,
                "h": photo.height,
                "n": len(photo.data),
                "data": photo.data,
                "by": principal.actor,
            },
        )
        .mappings()
        .one()
    )
    audit.record(
        conn,
        principal,
        audit.AuditAction.CHANGE,
        target=f"visit:{visit_id}",
        detail={"photo": row["id"], "bytes": row["bytes"]},
    )
    return dict(row)


def _readable_visit(conn: Connection, principal: Principal, visit_id: int) -> Any:
    """The visit, when the principal reads its notes (photos are as personal as they)."""
    visit = _visit(conn, visit_id)
    if not principal.can_read_requests(visit.site_id):
        raise NotFound(f"no visit has the id {visit_id}")
    if not principal.can_read_case_personal(visit.site_id):
        raise Forbidden(
            f"the {principal.role} role may not see visit photos: they are personal, like "
            "the visit's notes (the site's officers see them)"
        )
    return visit


def photos(conn: Connection, principal: Principal, visit_id: int) -> list[dict[str, Any]]:
    """The visit's photos (what they are, not their bytes)."""
    _readable_visit(conn, principal, visit_id)
    rows = conn.execute(
        text(
            "SELECT id, visit_id, content_type, width, height, bytes, created_at "
            "FROM visit_photos WHERE visit_id = :v ORDER BY id"
        ),
        {"v": visit_id},
    ).mappings()
    return [dict(r) for r in rows]


def photo(
    conn: Connection, principal: Principal, visit_id: int, photo_id: int
) -> tuple[str, bytes]:
    """One photo's type and bytes; the read is audited."""
    _readable_visit(conn, principal, visit_id)
    row = conn.execute(
        text("SELECT content_type, data FROM visit_photos WHERE id = :p AND visit_id = :v"),
        {"p": photo_id, "v": visit_id},
    ).first()
    if row is None:
        raise NotFound(f"visit {visit_id} has no photo {photo_id}")
    audit.record(
        conn,
        principal,
        audit.AuditAction.READ_PERSONAL,
        target=f"visit_photo:{photo_id}",
        record_count=1,
        detail={"visit": visit_id},
    )
    return str(row.content_type), bytes(row.data)
