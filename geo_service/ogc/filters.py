"""CQL2 (text and JSON) to SQL, with every literal a bound parameter.

pygeofilter parses the filter into an AST; this module walks it and writes SQL for the
collection's own field expressions (attributes are checked against its queryables), so a
filter can neither name a personal field nor inject SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from geo_service.errors import InvalidQuery
from geo_service.ogc.collections import Collection, Where
from geo_service.ogc.crs import STORAGE_SRID, OutputCRS

GEOMETRY_NAMES = {"geometry", "geom"}

_COMPARISON = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}
# The CQL2 names of those functions, for messages: ST_Intersects is S_INTERSECTS.
_SPATIAL_NAMES = tuple("S_" + function[3:].upper() for function in _SPATIAL.values())
_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mul: "*", ast.Div: "/"}


def _bbox_corners(values_: Any) -> list[float]:
    """minx, miny, maxx, maxy of a CQL2 BBOX (4 numbers, or 6 with heights), else a 400."""
    if (
        not isinstance(values_, list)
        or len(values_) not in (4, 6)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values_)
    ):
        raise InvalidQuery(f"filter: a BBOX takes 4 or 6 numbers, not {values_!r}")
    return [float(v) for v in (values_ if len(values_) == 4 else values_[:2] + values_[3:5])]


def _bbox_polygons(node: Any) -> Any:
    """cql2-json with each ``{"bbox": [...]}`` as a GeoJSON polygon.

    pygeofilter 0.4 puts a JSON bbox's numbers into its Envelope in the wrong order,
    mixing longitudes with latitudes (geopython/pygeofilter#163); a polygon cannot be.
    """
    if isinstance(node, list):
        return [_bbox_polygons(n) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"}:
        x0, y0, x1, y1 = _bbox_corners(node["bbox"])
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {"type": "Polygon", "coordinates": [ring]}
    return {k: _bbox_polygons(v) for k, v in node.items()}


def parse_filter(text_or_json: str, lang: str) -> ast.Node:
    """The AST of a CQL2 filter, or a 400 that says where it went wrong."""
    try:
        if lang == "cql2-json":
            return parse_cql2_json(_bbox_polygons(json.loads(text_or_json)))
        return parse_cql2_text(text_or_json)
    except InvalidQuery:
        raise
    except Exception as exc:  # lark and json errors: many types, one meaning
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidQuery(f"filter is not valid {lang}: {first}") from None


class _Translator:
    def __init__(self, col: Collection, where: Where, filter_crs: OutputCRS) -> None:
        self.col, self.where, self.crs = col, where, filter_crs

    def sql(self, node: Any) -> str:
        if isinstance(node, ast.And | ast.Or):
            op = "AND" if isinstance(node, ast.And) else "OR"
            return f"({self.sql(node.lhs)} {op} {self.sql(node.rhs)})"
        if isinstance(node, ast.Not):
            return f"NOT ({self.sql(node.sub_node)})"
        if type(node) in _COMPARISON:
            self._check_types(node.lhs, [node.rhs])
            (rhs,) = self._dates(node.lhs, [node.rhs])
            return f"({self.sql(node.lhs)} {_COMPARISON[type(node)]} {self.sql(rhs)})"
        if isinstance(node, ast.Like):
            op = "ILIKE" if node.nocase else "LIKE"
            pattern = node.pattern
            if node.wildcard != "%" or node.singlechar != "_":
                pattern = pattern.replace(node.wildcard, "%").replace(node.singlechar, "_")
            neg = "NOT " if node.not_ else ""
            return f"({self.sql(node.lhs)}::text {neg}{op} {self.where.bind(pattern)})"
        if isinstance(node, ast.In):
            self._check_types(node.lhs, list(node.sub_nodes))
            items = ", ".join(self.sql(v) for v in self._dates(node.lhs, list(node.sub_nodes)))
            neg = "NOT " if node.not_ else ""
            return f"({self.sql(node.lhs)} {neg}IN ({items}))"
        if isinstance(node, ast.IsNull):
            return f"({self.sql(node.lhs)} IS {'NOT ' if node.not_ else ''}NULL)"
        if isinstance(node, ast.Between):
            self._check_types(node.lhs, [node.low, node.high])
            neg = "NOT " if node.not_ else ""
            low, high = (self.sql(v) for v in self._dates(node.lhs, [node.low, node.high]))
            return f"({self.sql(node.lhs)} {neg}BETWEEN {low} AND {high})"
        if type(node) in _SPATIAL:
            return f"{_SPATIAL[type(node)]}({self.sql(node.lhs)}, {self.sql(node.rhs)})"
        if isinstance(node, ast.BBox):
            env = self._envelope(node.minx, node.miny, node.maxx, node.maxy)
            return f"ST_Intersects({self.sql(node.lhs)}, {env})"
        if type(node) in _ARITHMETIC:
            return f"({self.sql(node.lhs)} {_ARITHMETIC[type(node)]} {self.sql(node.rhs)})"
        if isinstance(node, ast.Attribute):
            return self._attribute(node.name)
        if isinstance(node, ast.Include):
            return "FALSE" if node.not_ else "TRUE"
        if isinstance(node, values.Geometry):
            return self._geometry(node.geometry)
        if isinstance(node, values.Envelope):  # pygeofilter's order: x1, x2 = min/max x
            return self._envelope(node.x1, node.y1, node.x2, node.y2)
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            # pygeofilter 0.4 reads the CQL2 text literal BBOX(...) as a function call
            # (geopython/pygeofilter#143).
            return self._envelope(*_bbox_corners(list(node.arguments)))
        if isinstance(node, bool | int | float | str | dt.date | dt.datetime):
            return self.where.bind(node)
        if node is None:
            return "NULL"
        name = type(node).__name__
        raise InvalidQuery(f"filter uses {name}, which this service does not support")

    def _check_types(self, lhs: Any, others: list[Any]) -> None:
        """Refuse a comparison PostgreSQL could not make (a geometry with ``=``, a text
        property with a number): the filter is at fault, so a 400 that says how to write it."""
        for attr, other in [(lhs, o) for o in others] + [(o, lhs) for o in others]:
            if not isinstance(attr, ast.Attribute):
                continue
            if attr.name in GEOMETRY_NAMES:
                raise InvalidQuery(
                    f"filter: {attr.name} can only be tested with a spatial function "
                    f"({', '.join(_SPATIAL_NAMES)}), not compared"
                )
            kind = self.col.field(attr.name).kind
            number = isinstance(other, int | float) and not isinstance(other, bool)
            if kind in ("str", "str_list") and number:
                raise InvalidQuery(
                    f"filter: {attr.name} is text; compare it with a string in quotes, "
                    f"e.g. {attr.name} = '{other}'"
                )

    def _dates(self, lhs: Any, others: list[Any]) -> list[Any]:
        """Text compared with a date property, read as a date: GDAL writes
        ``start_date >= '2024-01-01T'`` for a ``-where`` on a date, which PostgreSQL
        would refuse."""
        if not isinstance(lhs, ast.Attribute) or lhs.name in GEOMETRY_NAMES:
            return others
        if self.col.field(lhs.name).kind != "date":
            return others
        return [parse_day(o, f"filter: {lhs.name}") if isinstance(o, str) else o for o in others]

    def _attribute(self, name: str) -> str:
        if name in GEOMETRY_NAMES:
            return "m.geom"
        return self.col.expr(name)  # InvalidQuery names the queryables

    def _from_filter_crs(self, geom: str) -> str:
        if self.crs.north_first:
            geom = f"ST_FlipCoordinates({geom})"
        if self.crs.srid != STORAGE_SRID:
            geom = f"ST_Transform({geom}, {STORAGE_SRID})"
        return geom

    def _geometry(self, geojson: dict) -> str:
        _check_geometry(geojson)
        bound = self.where.bind(json.dumps(geojson))
        return self._from_filter_crs(f"ST_SetSRID(ST_GeomFromGeoJSON({bound}), {self.crs.srid})")

    def _envelope(self, *coords: float) -> str:
        b = [self.where.bind(float(c)) for c in coords]
        return self._from_filter_crs(f"ST_MakeEnvelope({', '.join(b)}, {self.crs.srid})")


def parse_day(raw: str, what: str) -> dt.date:
    """A date (``2025-06-01``, or ``2025-06-01T`` as GDAL writes a date alone), or an RFC 3339
    time taken as its day in the server's local time zone; else a 400 naming ``what``."""
    day = raw[:-1] if raw.endswith("T") else raw
    try:
        if len(day) == 10:
            return dt.date.fromisoformat(day)
        moment = dt.datetime.fromisoformat(day)
    except ValueError:
        raise InvalidQuery(
            f"{what}: {raw!r} is not a date (2025-06-01) or a time (2025-06-01T08:00:00Z)"
        ) from None
    return (moment.astimezone() if moment.tzinfo else moment).date()


def _check_geometry(geojson: dict) -> None:
    """A filter's geometry must be valid: PostGIS would otherwise close an open ring or
    answer for a self-crossing polygon as if it meant something."""
    import shapely
    import shapely.validation
    from shapely.geometry import shape

    rings = _rings(geojson)
    for ring in rings:
        if len(ring) < 4 or list(ring[0]) != list(ring[-1]):
            raise InvalidQuery(
                "filter: a polygon ring must be closed (its last point the same as its first) "
                f"and have at least 4 points; got {len(ring)} points"
            )
    try:
        geometry = shape(geojson)
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise InvalidQuery(f"filter: the geometry cannot be read: {exc}") from None
    if not geometry.is_valid:
        reason = shapely.validation.explain_validity(geometry)
        raise InvalidQuery(f"filter: the geometry is invalid: {reason}")


def _rings(geojson: dict) -> list[list]:
    kind, coords = geojson.get("type"), geojson.get("coordinates") or []
    if kind == "Polygon":
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    if kind == "GeometryCollection":
        return [r for g in geojson.get("geometries", []) for r in _rings(g)]
    return []


def filter_condition(col: Collection, where: Where, node: ast.Node, filter_crs: OutputCRS) -> None:
    """Add the filter to ``where``."""
    where.add(_Translator(col, where, filter_crs).sql(node))
