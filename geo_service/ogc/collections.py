"""A layer as the OGC API serves it: queryables, extent, and GeoJSON pages built in PostGIS.

Only public fields are ever selected here (a household's contacts and vulnerability flags
never reach the OGC API, whoever asks): a ``Collection`` is a ``geo_service.query``
builder without ``personal``. Every value a client sends is a bound parameter. A page of
features is assembled by PostgreSQL (``ST_AsGeoJSON`` and ``json_build_object`` per
feature, ``string_agg`` per page), so Python moves one string per page, never a dict per
feature.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from geo_service.errors import InvalidQuery
from geo_service.ogc.crs import CRS84, STORAGE_SRID, OutputCRS
from geo_service.query import LayerQuery, Where, quote

# Above this many matches numberMatched is not counted exactly (``number_matched``).
EXACT_COUNT_LIMIT = 200_000

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "time": {"type": "string", "format": "time"},
    "datetime": {"type": "string", "format": "date-time"},
    "str_list": {"type": "array", "items": {"type": "string"}},
}


@dataclass(frozen=True)
class Collection(LayerQuery):
    """One layer as the OGC API serves it: its public fields only."""

    @property
    def id(self) -> str:
        return self.layer.id

    def box_filter(self, box: str) -> str:
        """SQL: the feature's geometry meets the box ``box`` (an SQL expression) by its
        bounding box, testing a computed layer's cheap ``reach`` first."""
        hit = f"m.geom && {box}"
        return f"m.{quote(self.layer.reach)} && {box} AND {hit}" if self.layer.reach else hit

    # -- metadata ------------------------------------------------------------------------------
    def schema(self) -> dict[str, Any]:
        """JSON Schema of a feature's properties (Part 5 ``/schema``; ``/queryables``)."""
        props: dict[str, Any] = {
            "geometry": {
                "x-ogc-role": "primary-geometry",
                "format": "geometry-any",
                "title": "Geometry",
            }
        }
        for f in self.fields:
            props[f.name] = {
                "title": f.heading("en"),
                "description": f.heading("zh"),
                **_JSON_TYPES[f.kind],
            }
            if f.choices:
                props[f.name]["enum"] = list(f.choices)
        props[self.layer.feature_id if self.layer.feature_id in props else "id"] = {
            **props.get(self.layer.feature_id, {"title": "Id", "type": "integer"}),
            "x-ogc-role": "id",
        }
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "title": self.layer.title_en,
            "properties": props,
        }

    def extent(self, conn: Connection) -> list[float] | None:
        """The layer's bounding box in CRS84, from the data (estimated for big tables)."""
        table = quote(self.layer.table)
        big = False
        if not self.layer.computed:
            rows = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                {"t": self.layer.table},
            ).scalar()
            big = (rows or 0) > EXACT_COUNT_LIMIT
        # A million households: the statistics' extent, not a scan of every point.
        extent = (
            "ST_EstimatedExtent('public', :t, 'geom')"
            if big
            else f"(SELECT ST_Extent(geom) FROM {table})"
        )
        row = conn.execute(
            text(
                f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT {extent} e) s"
            ),
            {"t": self.layer.table},
        ).one()
        if row is None or row[0] is None:
            return None
        return [round(float(v), 7) for v in row]

    def time_extent(self, conn: Connection) -> list[str | None] | None:
        """The first start and last end date (None: open) of a layer with time."""
        if self.layer.temporal is None:
            return None
        first, last = (quote(name) for name in self.layer.temporal)
        row = conn.execute(
            text(
                f"SELECT min({first}), max({last}), bool_or({first} IS NULL), "
                f"bool_or({last} IS NULL), count(*) "
                f"FROM {quote(self.layer.table)}"
            )
        ).one()
        start, end, open_start, open_end, rows = row
        if not rows:
            return None
        return [
            None if open_start or start is None else start.isoformat(),
            None if open_end or end is None else end.isoformat(),
        ]


@dataclass
class Page:
    """What a query asked for: the page, the order, the filters, the output."""

    limit: int
    offset: int = 0
    where: Where = field(default_factory=Where)
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    properties: list[str] | None = None
    crs: OutputCRS | None = None
    after: Any = None  # the feature id a next link's cursor starts after

    @property
    def params(self) -> dict[str, Any]:
        """The bound parameters of the page's SQL."""
        return {**self.where.params, "after": self.after}

    def order_sql(self, col: Collection) -> str:
        keys = [f"{col.expr(name)} {'DESC' if desc else 'ASC'}" for name, desc in self.sortby]
        return ", ".join([*keys, col.fid])


def geometry_sql(column: str, crs: OutputCRS | None) -> str:
    """The stored geometry as the client asked: transformed, axes in the CRS's order."""
    geom = column
    if crs is not None and crs.srid != STORAGE_SRID:
        geom = f"ST_Transform({geom}, {int(crs.srid)})"
    if crs is not None and crs.north_first:
        geom = f"ST_FlipCoordinates({geom})"
    return geom


def _page_sql(col: Collection, page: Page, extra: int = 1) -> tuple[str, list[str]]:
    """The page's rows: fid, the chosen properties (as p0, p1, ...) and the geometry.

    For a table, the page's feature ids are found first, from the indexes and with only
    the joins the filter and order need, then only those rows are read and joined: a page
    at offset 999,000 of a million households reads 1,000 rows, not a million. With
    ``after`` (the cursor of a ``next`` link) the ids start after that feature instead of
    counting an offset.
    """
    names = page.properties if page.properties is not None else [f.name for f in col.fields]
    selects = [f"{col.expr(n)} AS p{i}" for i, n in enumerate(names)]
    columns = ", ".join([f"{col.fid} AS fid", *selects, "m.geom AS geom"])
    where, order = page.where.sql(), page.order_sql(col)
    if page.after is not None:
        where = f"({where}) AND {col.fid} > :after"
    skip = 0 if page.after is not None else int(page.offset)
    window = f"LIMIT {int(page.limit) + extra} OFFSET {skip}"
    if col.layer.computed:  # a view: no key to come back by
        sql = f"SELECT {columns} FROM {col.source} WHERE {where} ORDER BY {order} {window}"
        return sql, names
    keys = (
        f"ARRAY(SELECT {col.fid} FROM {col.source_for(where + order)} "
        f"WHERE {where} ORDER BY {order} {window})"
    )
    sql = (
        f"SELECT {columns} FROM {col.source} "
        f"JOIN unnest({keys}) WITH ORDINALITY AS k(key, ord) ON {col.fid} = k.key ORDER BY k.ord"
    )
    return sql, names


def _feature_sql(names: list[str], crs: OutputCRS) -> str:
    props = ", ".join(f"'{n}', page.p{i}" for i, n in enumerate(names))
    digits = crs.decimals
    return (
        '\'{"type":"Feature","id":\' || to_json(page.fid)::text'
        " || ',\"geometry\":' || coalesce(ST_AsGeoJSON("
        f"{geometry_sql('page.geom', crs)}, {digits}, 0), 'null')"
        f" || ',\"properties\":' || json_build_object({props})::text || '}}'"
    )


class PageText(NamedTuple):
    """A page of features as GeoJSON text, how many, whether more follow, the last id."""

    features: str
    returned: int
    more: bool
    last_fid: Any


def features_json(conn: Connection, col: Collection, page: Page, separator: str = ",") -> PageText:
    """The page's features as GeoJSON text joined by ``separator``, assembled in PostgreSQL."""
    sql, names = _page_sql(col, page)
    crs = page.crs
    assert crs is not None
    keep = f"FILTER (WHERE f.rn <= {page.limit})"
    query = (
        f"SELECT string_agg(f.feature, :sep ORDER BY f.rn) {keep}, count(*), "
        f"(array_agg(f.fid ORDER BY f.rn DESC) {keep})[1] "
        "FROM (SELECT row_number() OVER () AS rn, page.fid, "
        f"{_feature_sql(names, crs)} AS feature FROM ({sql}) page) f"
    )
    body, count, last = conn.execute(text(query), {**page.params, "sep": separator}).one()
    return PageText(body or "", min(count, page.limit), count > page.limit, last)


def feature_json(conn: Connection, col: Collection, fid: str, crs: OutputCRS) -> str | None:
    where = Where()
    if col.fid_is_integer:
        if not (fid.isascii() and fid.isdigit()):  # "²".isdigit() too, but int() refuses it
            return None
        where.add(f"{col.fid} = {where.bind(int(fid))}")
    else:
        where.add(f"{col.fid} = {where.bind(fid)}")
    found = features_json(conn, col, Page(limit=1, where=where, crs=crs))
    return found.features if found.returned else None


def feature_rows(conn: Connection, col: Collection, page: Page) -> tuple[list[str], list[tuple]]:
    """Rows for CSV: id, the properties, the geometry as WKT in the asked CRS."""
    sql, names = _page_sql(col, page, extra=0)
    selects = ", ".join(f"page.p{i}" for i in range(len(names)))
    geom = geometry_sql("page.geom", page.crs)
    query = f"SELECT page.fid, {selects}, ST_AsText({geom}, 8) FROM ({sql}) page"
    rows = conn.execute(text(query), page.params).all()
    return ["id", *names, "wkt"], [tuple(r) for r in rows]


def number_matched(conn: Connection, col: Collection, where: Where) -> tuple[int, bool]:
    """How many features match: exact up to EXACT_COUNT_LIMIT, else an estimate.

    The planner's estimate is trusted only for a whole stored table (its row count from the
    statistics). For a computed layer (a view: 46 impact zones were estimated at 601,200)
    or a filter (whose selectivity the planner guesses), the rows are counted up to
    EXACT_COUNT_LIMIT + 1, so the count is exact whenever it is within the limit.
    """
    base = f"SELECT 1 FROM {col.source_for(where.sql())} WHERE {where.sql()}"
    if not col.layer.computed and not where.clauses:
        estimate = _planned_rows(conn, base, where)
        if estimate > EXACT_COUNT_LIMIT:
            return estimate, False
    bounded = f"SELECT count(*) FROM ({base} LIMIT {EXACT_COUNT_LIMIT + 1}) q"
    counted = int(conn.execute(text(bounded), where.params).scalar_one())
    if counted <= EXACT_COUNT_LIMIT:
        return counted, True
    return max(_planned_rows(conn, base, where), counted), False


def _planned_rows(conn: Connection, sql: str, where: Where) -> int:
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"), where.params).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def parse_value(col: Collection, name: str, raw: str) -> Any:
    """A property value from a query string, in its field's type (400 when it is not)."""
    kind = col.field(name).kind
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() not in {"true", "false"}:
                raise ValueError(raw)
            return raw.lower() == "true"
        if kind == "date":
            return dt.date.fromisoformat(raw)
        if kind == "time":
            return dt.time.fromisoformat(raw)
        if kind == "datetime":
            return dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


def property_condition(col: Collection, where: Where, name: str, raw: str) -> None:
    """``name=value`` from the query string: equality (membership for list fields)."""
    value = parse_value(col, name, raw)
    expr = col.expr(name)
    if col.field(name).kind == "str_list":
        where.add(f"{where.bind(value)} = ANY({expr})")
    else:
        where.add(f"{expr} = {where.bind(value)}")


__all__ = ["CRS84", "Collection", "Page", "Where", "quote"]
