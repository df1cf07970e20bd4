"""The OGC query parameters: one small parser each, and one declaration each (``PARAMETERS``).

Parameters are read as strings and parsed here (not by FastAPI's validation, whose 422
would not say what OGC clients expect): a bad bbox, CRS, limit or sortby is a 400 whose
message names the parameter and the values it takes. ``where`` turns an items request into
its conditions; ``page_links`` writes the paging parameters back into the next and prev
links, beside ``parse_after``, which reads the cursor they carry.

``PARAMETERS``, at the end, says of each parameter where it applies (the operations of
``/ogc/api``), its schema, its description and its parser; the OpenAPI document
(``openapi``), the names that are not property filters (``RESERVED``) and the names each
route takes (``refuse_unknown``: any other is a 400) are read from it, so a new parameter
is one row there and one parser here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URL, QueryParams

from geo_service import formats
from geo_service.errors import InvalidQuery
from geo_service.ogc.collections import (
    Collection,
    Page,
    PageText,
    Where,
    property_condition,
    quote,
)
from geo_service.ogc.crs import STORAGE_SRID, OutputCRS, offered_uris, parse_crs
from geo_service.ogc.filters import filter_condition, parse_day, parse_filter
from layers import COLLECTIONS, Layer

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
FORMATS = formats.OGC_ITEMS.names
# cql-text is the draft's name for cql2-text, the one GDAL (3.6 to 3.12) looks for before
# it sends a -where to the server; it is read as cql2-text.
FILTER_LANGS = ("cql2-text", "cql2-json", "cql-text")
LANG_ALIASES = {"cql-text": "cql2-text"}


def parse_int(name: str, raw: str | None, default: int, low: int, high: int | None) -> int:
    """An integer parameter between ``low`` and ``high`` (None: no upper bound)."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidQuery(f"{name}={raw!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        span = f"at least {low}" if high is None else f"{low} to {high}"
        raise InvalidQuery(f"{name}={value} is out of range: {span}")
    return value


def parse_limit(raw: str | None) -> int:
    """A page size; above ``MAX_LIMIT`` the maximum, not an error (OGC 17-069r4
    ``/req/core/fc-limit-response-1`` C: a client asking for 20,000 gets pages of 10,000
    and follows the next links)."""
    return min(parse_int("limit", raw, DEFAULT_LIMIT, 1, None), MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    return parse_int("offset", raw, 0, 0, 2**62)


def _timed() -> list[Layer]:
    """The collections with dates, which ``datetime`` filters; read at each call, so that a
    layer registered later counts."""
    return [layer for layer in COLLECTIONS.values() if layer.temporal]


def datetime_condition(col: Collection, where: Where, raw: str | None) -> None:
    """``datetime``: an instant or an interval (``start/end``, ``..`` open), matching the
    features whose dates overlap it. A missing start or end date never excludes a feature
    (a site with no end date is still going on)."""
    if raw is None:
        return
    temporal = col.layer.temporal
    if temporal is None:
        with_time = ", ".join(layer.id for layer in _timed())
        raise InvalidQuery(f"datetime: {col.id} has no time; it applies to {with_time}")
    parts = raw.split("/")
    if len(parts) > 2 or raw == "" or (len(parts) == 1 and parts[0] == ".."):
        raise InvalidQuery(
            f"datetime={raw!r}: use a date or time, or an interval start/end with '..' "
            "for an open end (2025-01-01/.., ../2025-06-30)"
        )
    bounds = [None if p in ("", "..") else parse_day(p, "datetime") for p in parts]
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
    """``f``, else HTML for a browser (which asks for text/html, not json), else JSON."""
    if raw:
        if raw not in FORMATS:
            raise InvalidQuery(f"f={raw!r} is not offered; use one of: {', '.join(FORMATS)}")
        return raw
    if "text/html" in accept and "json" not in accept:
        return "html"
    return "json"


def bbox_condition(col: Collection, where: Where, raw: str | None, raw_crs: str | None) -> None:
    """``bbox=minx,miny,maxx,maxy`` (or 6 numbers) in ``bbox-crs`` (default CRS84).

    In a geographic CRS a west edge east of the east edge is a box across the antimeridian
    (OGC 17-069r4 section 7.15.3: ``160.6,-55.95,-170,-25.89``), read as its two halves.
    """
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
    if y1 > y2 or (x1 > x2 and not crs.geographic):
        raise InvalidQuery(f"bbox={raw!r}: the lower corner must come first")
    if crs.geographic and not (-90 <= y1 <= 90 and -90 <= y2 <= 90):
        raise InvalidQuery(f"bbox={raw!r}: latitudes must lie between -90 and 90")
    halves = [(x1, x2)] if x1 <= x2 else [(x1, 180.0), (-180.0, x2)]
    tests = [_box_test(col, where, crs, (west, y1, east, y2)) for west, east in halves]
    where.add(" OR ".join(f"({t})" for t in tests))


def _box_test(
    col: Collection, where: Where, crs: OutputCRS, box: tuple[float, float, float, float]
) -> str:
    """SQL: the feature meets ``box`` (west, south, east, north in ``crs``)."""
    corners = ", ".join(where.bind(v) for v in box)
    env = f"ST_MakeEnvelope({corners}, {crs.srid})"
    if crs.srid != STORAGE_SRID:
        step = where.bind(abs(box[2] - box[0]) / 16 or 1)
        env = f"ST_Transform(ST_Segmentize({env}, ({step})), 4326)"
    return f"{col.box_filter(env)} AND ST_Intersects(m.geom, {env})"


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
    return LANG_ALIASES.get(raw, raw)


def parse_output_crs(raw: str | None) -> OutputCRS:
    return parse_crs(raw, "crs")


def parse_filter_crs(raw: str | None) -> OutputCRS:
    return parse_crs(raw, "filter-crs")


# -- an items request's conditions and its paging links ----------------------------------------
def where(col: Collection, query: QueryParams) -> Where:
    """What an items request selects: bbox, datetime, ``field=value`` and a CQL2 filter."""
    out = Where()
    bbox_condition(col, out, query.get("bbox"), query.get("bbox-crs"))
    datetime_condition(col, out, query.get("datetime"))
    for name, value in query.multi_items():
        if name not in RESERVED:
            _field_condition(col, out, name, value)
    lang = parse_filter_lang(query.get("filter-lang"))
    if query.get("filter"):
        node = parse_filter(query["filter"], lang)
        filter_condition(col, out, node, parse_filter_crs(query.get("filter-crs")))
    return out


def _field_condition(col: Collection, out: Where, name: str, value: str) -> None:
    """``field=value`` on a queryable; any other name is refused, with the names it may be."""
    try:
        col.field(name)
    except InvalidQuery:
        raise InvalidQuery(
            f"unknown parameter {name!r}: not an OGC parameter nor a queryable of "
            f"{col.id} ({', '.join(f.name for f in col.fields)})"
        ) from None
    property_condition(col, out, name, value)


def page_links(url: URL, media_type: str, page: Page, found: PageText) -> list[dict[str, str]]:
    """self, next and prev; next carries a cursor (``after``, read by ``parse_after``) when
    the page is in id order, so a client reading a whole collection never makes the server
    count past an offset."""
    links = [{"rel": "self", "type": media_type, "href": str(url)}]
    url = url.remove_query_params("after")
    offset, limit = page.offset, page.limit
    if found.more:
        following = {"offset": offset + limit, "limit": limit}
        if not page.sortby and found.last_fid is not None:
            following["after"] = found.last_fid
        href = url.include_query_params(**following)
        links.append({"rel": "next", "type": media_type, "href": str(href)})
    if offset > 0:
        href = url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "type": media_type, "href": str(href)})
    return links


# -- the declarations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """One OGC query parameter, as the OpenAPI document states it and as a route reads it.

    ``operations`` are the operationIds of ``/ogc/api`` that take it; a schema of type
    ``array`` is a comma-separated list. ``parser`` is the function above that the routes
    call on it (None: accepted and ignored).
    """

    name: str
    operations: tuple[str, ...]
    schema: dict[str, Any]
    description: str
    parser: Callable[..., object] | None


ITEMS = ("items",)
# Every operation that answers a document a person may ask for as a page.
DOCUMENTS = ("landing", "conformance", "collections", "collection", "items", "item")
_CRS = {"type": "string", "format": "uri", "enum": offered_uris()}
_TEXT = {"type": "string"}
_NAMES = {"type": "array", "items": _TEXT}
_WITH_TIME = ", ".join(f"{layer.id} ({' to '.join(layer.temporal)})" for layer in _timed())

PARAMETERS = (
    Parameter(
        "limit",
        ITEMS,
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        f"Features per page: default {DEFAULT_LIMIT}, at most {MAX_LIMIT} (a larger limit "
        "gives that many).",
        parse_limit,
    ),
    Parameter(
        "offset",
        ITEMS,
        {"type": "integer", "minimum": 0, "default": 0},
        "Features to skip.",
        parse_offset,
    ),
    Parameter(
        "after",
        ITEMS,
        _TEXT,
        "The cursor a next link carries: the features after this feature id, in id order "
        "(offset then only numbers the page). Not with sortby.",
        parse_after,
    ),
    Parameter(
        "bbox",
        ITEMS,
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "minx,miny,maxx,maxy in bbox-crs (default CRS84).",
        bbox_condition,
    ),
    Parameter("bbox-crs", ITEMS, _CRS, "CRS of bbox.", bbox_condition),
    Parameter(
        "datetime",
        ITEMS,
        _TEXT,
        "Features whose dates overlap a date, a time, or an interval start/end ('..' for an "
        f"open end), e.g. 2025-01-01/2025-06-30. Collections with time: {_WITH_TIME}; a "
        "missing date leaves that end open.",
        datetime_condition,
    ),
    Parameter(
        "crs",
        ("items", "item"),
        _CRS,
        "CRS of the answer (Content-Crs says which).",
        parse_output_crs,
    ),
    Parameter("sortby", ITEMS, _NAMES, "+field or -field, comma-separated.", parse_sortby),
    Parameter("properties", ITEMS, _NAMES, "Properties to return.", parse_properties),
    Parameter("filter", ITEMS, _TEXT, "A CQL2 filter on the queryables.", parse_filter),
    Parameter(
        "filter-lang",
        ITEMS,
        {"type": "string", "enum": list(FILTER_LANGS), "default": FILTER_LANGS[0]},
        f"{FILTER_LANGS[0]} (default), {FILTER_LANGS[1]}, or cql-text (the draft name of "
        "cql2-text, which GDAL sends).",
        parse_filter_lang,
    ),
    Parameter("filter-crs", ITEMS, _CRS, "CRS of geometries in the filter.", parse_filter_crs),
    Parameter(
        "f",
        DOCUMENTS,
        {"type": "string", "enum": list(FORMATS), "default": "json"},
        "Format of the answer.",
        parse_format,
    ),
    Parameter(
        "lang",
        DOCUMENTS,
        _TEXT,
        "Language of the HTML page: zh or en (kept for the next pages); any other value, and "
        "every other format, is the same as without it.",
        None,
    ),
)


def declared(operation: str) -> list[Parameter]:
    """The query parameters an operation of ``/ogc/api`` takes, in the table's order."""
    return [p for p in PARAMETERS if operation in p.operations]


# Parameters with a meaning of their own; any other name on items is a property filter.
RESERVED = frozenset(p.name for p in declared("items"))
# The operations where a name not declared is a property filter, checked by ``where``.
PROPERTY_FILTERS = ("items",)


def refuse_unknown(operation: str, query: QueryParams) -> None:
    """A query parameter the operation does not declare is a 400 that names it (OGC 17-069r4
    ``/req/core/query-param-unknown``), on every route: a misspelt ``bbox`` must not answer
    the whole collection as if it had been read."""
    if operation in PROPERTY_FILTERS:
        return
    known = [p.name for p in declared(operation)]
    for name in query:
        if name not in known:
            takes = f"it takes {', '.join(known)}" if known else "it takes no query parameters"
            raise InvalidQuery(f"unknown parameter {name!r}: {takes}")
