"""One small parser per OGC query parameter, each returning a parsed value or a 400.

Parameters are read as strings and parsed here (not by FastAPI's validation, whose 422
would not say what OGC clients expect): a bad bbox, CRS, limit or sortby is a 400 whose
message names the parameter and the values it takes.
"""

from __future__ import annotations

import datetime as dt
import math

from geo_service.errors import InvalidQuery
from geo_service.ogc.collections import Collection, Where, quote
from geo_service.ogc.crs import STORAGE_SRID, OutputCRS, parse_crs
from layers import COLLECTIONS

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
FORMATS = ("json", "html", "csv", "geojsonseq")
FILTER_LANGS = ("cql2-text", "cql2-json")
# Parameters with a meaning of their own; any other name is a property filter.
RESERVED = {
    "f",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "sortby",
    "properties",
    "filter",
    "filter-lang",
    "filter-crs",
    "datetime",
    "lang",
    "after",
}


def parse_int(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidQuery(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise InvalidQuery(f"{name}={value} is out of range: {low} to {high}")
    return value


def parse_limit(raw: str | None) -> int:
    return parse_int("limit", raw, DEFAULT_LIMIT, 1, MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    return parse_int("offset", raw, 0, 0, 2**62)


def _day(raw: str) -> dt.date:
    """A date, or an RFC 3339 time taken as its day in the server's local time zone."""
    try:
        if len(raw) == 10:
            return dt.date.fromisoformat(raw)
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery(
            f"datetime: {raw!r} is not a date (2025-06-01) or a time (2025-06-01T08:00:00Z)"
        ) from None
    return (moment.astimezone() if moment.tzinfo else moment).date()


def datetime_condition(col: Collection, where: Where, raw: str | None) -> None:
    """``datetime``: an instant or an interval (``start/end``, ``..`` open), matching the
    features whose dates overlap it. A missing start or end date never excludes a feature
    (a site with no end date is still going on)."""
    if raw is None:
        return
    temporal = col.layer.temporal
    if temporal is None:
        with_time = [c.id for c in COLLECTIONS.values() if c.temporal]
        raise InvalidQuery(f"datetime: {col.id} has no time; it applies to {', '.join(with_time)}")
    parts = raw.split("/")
    if len(parts) > 2 or raw == "" or (len(parts) == 1 and parts[0] == ".."):
        raise InvalidQuery(
            f"datetime={raw!r}: use a date or time, or an interval start/end with '..' "
            "for an open end (2025-01-01/.., ../2025-06-30)"
        )
    bounds = [None if p in ("", "..") else _day(p) for p in parts]
    start, end = bounds[0], bounds[-1]
    if start is not None and end is not None and start > end:
        raise InvalidQuery(f"datetime={raw!r}: the interval ends before it starts")
    first, last = (f"m.{quote(name)}" for name in temporal)
    if end is not None:
        where.add(f"{first} IS NULL OR {first} <= {where.bind(end)}")
    if start is not None:
        where.add(f"{last} IS NULL OR {last} >= {where.bind(start)}")


def parse_after(col: Collection, raw: str | None, sortby: list) -> object:
    """The cursor of a ``next`` link: the id of the last feature of the page before."""
    if raw is None:
        return None
    if sortby:
        raise InvalidQuery("after pages in feature id order; with sortby, page with offset instead")
    if col.fid_is_integer:
        return parse_int("after", raw, 0, -(2**63), 2**63 - 1)
    return raw


def parse_format(raw: str | None, accept: str) -> str:
    if raw:
        if raw not in FORMATS:
            raise InvalidQuery(f"f={raw!r} is not offered; use one of: {', '.join(FORMATS)}")
        return raw
    if "text/html" in accept and "json" not in accept:
        return "html"
    return "json"


def bbox_condition(col: Collection, where: Where, raw: str | None, raw_crs: str | None) -> None:
    """``bbox=minx,miny,maxx,maxy`` (or 6 numbers) in ``bbox-crs`` (default CRS84)."""
    if raw is None or raw == "":
        if raw_crs:
            raise InvalidQuery("bbox-crs given without a bbox")
        return
    crs = parse_crs(raw_crs, "bbox-crs")
    try:
        numbers = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InvalidQuery(f"bbox={raw!r}: give 4 (or 6) comma-separated numbers") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise InvalidQuery(f"bbox={raw!r}: give 4 (or 6) comma-separated numbers")
    x1, y1, x2, y2 = numbers
    if crs.north_first:
        x1, y1, x2, y2 = y1, x1, y2, x2
    if y1 > y2 or x1 > x2:
        raise InvalidQuery(f"bbox={raw!r}: the lower corner must come first")
    if crs.geographic and not (-90 <= y1 <= 90 and -90 <= y2 <= 90):
        raise InvalidQuery(f"bbox={raw!r}: latitudes must lie between -90 and 90")
    corners = ", ".join(where.bind(v) for v in (x1, y1, x2, y2))
    env = f"ST_MakeEnvelope({corners}, {crs.srid})"
    if crs.srid != STORAGE_SRID:
        env = f"ST_Transform(ST_Segmentize({env}, ({where.bind(abs(x2 - x1) / 16 or 1)})), 4326)"
    where.add(f"{col.box_filter(env)} AND ST_Intersects(m.geom, {env})")


def parse_sortby(col: Collection, raw: str | None) -> list[tuple[str, bool]]:
    """``sortby=+name,-floors``: fields of the collection, ascending unless prefixed by -."""
    if not raw:
        return []
    keys = []
    for part in raw.split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part.lstrip("+-").strip()
        if not name:
            raise InvalidQuery(f"sortby={raw!r}: empty field name")
        try:
            col.field(name)
        except InvalidQuery:
            raise InvalidQuery(
                f"sortby: {col.id} has no field {name!r}; sortable fields are: "
                + ", ".join(f.name for f in col.fields)
            ) from None
        keys.append((name, desc))
    return keys


def parse_properties(col: Collection, raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        col.field(name)
    return names


def parse_filter_lang(raw: str | None) -> str:
    if not raw:
        return "cql2-text"
    if raw not in FILTER_LANGS:
        raise InvalidQuery(f"filter-lang={raw!r}; use one of: {', '.join(FILTER_LANGS)}")
    return raw


def parse_output_crs(raw: str | None) -> OutputCRS:
    return parse_crs(raw, "crs")
