"""The query options of a SensorThings request, checked and turned into SQL.

``$filter`` is parsed by ``odata-query`` (an OData v4 grammar); this module walks the tree
and accepts the subset the service answers: comparisons (``eq ne lt le gt ge in``) of an
id, a name, a time or a result with a literal, combined with ``and``, ``or``, ``not``, and a
property one navigation step away (``Datastream/id eq 'MN:a34002'``). Anything else is a 400
that names it. ``phenomenonTime`` is an interval for minute, hourly and daily data: it is
``ge``/``gt`` a time when it starts at or after it, ``lt``/``le`` when it ends by it, so
``ge`` one midnight ``and lt`` the next selects the intervals inside that day.

Example::

    >>> from geo_service.sensorthings.entities import OBSERVATIONS
    >>> where = Where()
    >>> filter_sql(OBSERVATIONS, "result gt 70 and resultQuality eq 'N'", where)
    '(e."result" > :p0 AND e."resultQuality" = :p1)'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException, ParsingException, TokenizingException
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.visitor import NodeVisitor

from geo_service.errors import InvalidQuery
from geo_service.query import Where, quote
from geo_service.sensorthings.entities import ENTITY_SETS, EntitySet, Prop

DEFAULT_TOP = 100  # entities per page when the client names no $top
MAX_TOP = 1000  # a larger $top gets pages of this size, with @iot.nextLink (as FROST does)
MAX_FILTER = 2000  # characters: a filter longer than this is not a hand-written one
OPTIONS = ("$top", "$skip", "$count", "$orderby", "$select", "$filter", "$expand")
_IN_EXPAND = ("$top", "$skip", "$orderby", "$select", "$filter")
_OPS = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_FLIPPED = {ast.Lt: ast.Gt(), ast.LtE: ast.GtE(), ast.Gt: ast.Lt(), ast.GtE: ast.LtE()}
_STRING_OR_IOT = re.compile(r"'(?:[^']|'')*'|@iot\.id")


@dataclass
class Expand:
    """One ``$expand`` item: a navigation link and the options of its entities."""

    name: str
    options: Options
    raw: dict[str, str]


@dataclass
class Options:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    order: list[str] = field(default_factory=list)
    select: tuple[str, ...] | None = None
    where: Where = field(default_factory=Where)
    expand: list[Expand] = field(default_factory=list)


def parse(es: EntitySet, raw: Mapping[str, str], *, nested: bool = False) -> Options:
    """The options of a request (or of one ``$expand`` item, ``nested``) on ``es``."""
    allowed = _IN_EXPAND if nested else OPTIONS
    for key in raw:
        if key.startswith("$") and key not in allowed:
            where = "inside $expand" if nested else "here"
            raise InvalidQuery(f"{key} is not supported {where}; options are: {', '.join(allowed)}")
    opts = Options(
        top=min(_integer(raw, "$top", DEFAULT_TOP), MAX_TOP),
        skip=_integer(raw, "$skip", 0),
        count=_boolean(raw, "$count"),
        select=_select(es, raw.get("$select")),
    )
    opts.order = order_sql(es, raw.get("$orderby"))
    if raw.get("$filter") is not None:
        opts.where.add(filter_sql(es, raw["$filter"], opts.where))
    if raw.get("$expand") is not None:
        opts.expand = _expand(es, raw["$expand"])
    return opts


def _integer(raw: Mapping[str, str], key: str, default: int) -> int:
    value = raw.get(key)
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,9}", value.strip()):
        raise InvalidQuery(f"{key}={value!r} is not a whole number >= 0")
    return int(value)


def _boolean(raw: Mapping[str, str], key: str) -> bool:
    value = raw.get(key)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise InvalidQuery(f"{key}={value!r}: use true or false")
    return value == "true"


def _names(es: EntitySet) -> str:
    return ", ".join((*es.properties, *es.navigation))


def _select(es: EntitySet, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple("id" if n.strip() == "@iot.id" else n.strip() for n in value.split(","))
    for name in names:
        if name not in es.properties and name not in es.navigation:
            raise InvalidQuery(f"$select: {es.name} have no {name!r}; they have: {_names(es)}")
    return names


def _prop(es: EntitySet, name: str, option: str) -> Prop:
    prop = es.filterable.get("id" if name == "@iot.id" else name)
    if prop is None:
        raise InvalidQuery(
            f"{option}: {es.name} have no property {name!r} to use here; "
            f"they have: {', '.join(es.filterable)}"
        )
    return prop


def order_sql(es: EntitySet, value: str | None) -> list[str]:
    """``$orderby`` as SQL terms, then the set's own order (so pages never overlap)."""
    terms = []
    for term in (value or "").split(",") if value is not None else []:
        found = re.fullmatch(r"\s*([@\w.]+)(?:\s+(asc|desc))?\s*", term, re.IGNORECASE)
        if found is None:
            raise InvalidQuery(f"$orderby: {term!r} is not 'property [asc|desc]'")
        prop = _prop(es, found.group(1), "$orderby")
        direction = (found.group(2) or "asc").upper()
        columns = es.order if prop.type == "id" and es.id_parts else (prop.column,)
        terms += [f"e.{quote(c)} {direction}" for c in columns]
    return [*terms, *(f"e.{quote(c)}" for c in es.order)]


def _split(text: str, sep: str) -> list[str]:
    """``text`` cut at ``sep`` outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == sep:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0 or quoted:
        raise InvalidQuery(f"$expand: unbalanced parentheses or quotes in {text!r}")
    return [*parts, text[start:]]


def _expand(es: EntitySet, value: str) -> list[Expand]:
    items = []
    for item in _split(value, ","):
        found = re.fullmatch(r"\s*([\w/]+)\s*(?:\((.*)\))?\s*", item, re.DOTALL)
        if found is None:
            raise InvalidQuery(f"$expand: {item!r} is not 'Name' or 'Name($top=..;...)'")
        name, inner = found.group(1), found.group(2)
        if "/" in name:
            raise InvalidQuery(f"$expand: {name!r}: one level only (no '/')")
        if name not in es.navigation:
            raise InvalidQuery(
                f"$expand: {es.name} link to no {name!r}; they link to: {', '.join(es.navigation)}"
            )
        raw: dict[str, str] = {}
        for option in _split(inner, ";") if inner else []:
            key, eq, text = option.strip().partition("=")
            if not eq:
                raise InvalidQuery(f"$expand: {option!r} is not $option=value")
            if key == "$expand":
                raise InvalidQuery("$expand: one level only (no $expand inside $expand)")
            raw[key] = text
        target = ENTITY_SETS[es.navigation[name].target]
        items.append(Expand(name, parse(target, raw, nested=True), raw))
    return items


# -- $filter ------------------------------------------------------------------------------------
def filter_sql(es: EntitySet, text: str, where: Where, alias: str = "e") -> str:
    """``$filter`` as a SQL condition on the view's row ``alias``, values bound in ``where``."""
    if len(text) > MAX_FILTER:
        raise InvalidQuery(f"$filter is longer than {MAX_FILTER} characters")
    # ``@iot.id`` is what STA 1.0 clients send for ``id``; outside quotes it means the id.
    text = _STRING_OR_IOT.sub(lambda m: m[0] if m[0].startswith("'") else "id", text)
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except TokenizingException as error:
        raise InvalidQuery(f"$filter: cannot read {error.token.value[:40]!r}") from None
    except ParsingException as error:
        at = "end" if error.token is None else f"{error.token.value!r} at {error.token.index}"
        raise InvalidQuery(f"$filter: unexpected {at} in {text!r}") from None
    except ODataException as error:
        raise InvalidQuery(f"$filter: {error}") from None
    except (ValueError, RecursionError) as error:
        raise InvalidQuery(f"$filter: {error}") from None
    try:
        return _Condition(es, where, alias).visit(tree)
    except RecursionError:
        raise InvalidQuery("$filter is nested too deeply") from None


class _Condition(NodeVisitor):
    """The parsed filter as SQL; any node it has no method for is refused by name."""

    def __init__(self, es: EntitySet, where: Where, alias: str) -> None:
        self.es, self.where, self.alias = es, where, alias

    def generic_visit(self, node: ast._Node) -> str:
        raise InvalidQuery(
            f"$filter: {type(node).__name__} is not supported here; the service answers "
            "comparisons (eq ne lt le gt ge in) of a property with a value, and and/or/not"
        )

    def visit_BoolOp(self, node: ast.BoolOp) -> str:
        op = "AND" if isinstance(node.op, ast.And) else "OR"
        return f"({self.visit(node.left)} {op} {self.visit(node.right)})"

    def visit_UnaryOp(self, node: ast.UnaryOp) -> str:
        if not isinstance(node.op, ast.Not):
            return self.generic_visit(node)
        return f"(NOT {self.visit(node.operand)})"

    def visit_Compare(self, node: ast.Compare) -> str:
        left, op, right = node.left, node.comparator, node.right
        if isinstance(left, ast._Literal) and not isinstance(right, ast._Literal):
            left, right = right, left
            op = _FLIPPED.get(type(op), op)
        if isinstance(left, ast.Identifier) and not left.namespace:
            return _compare(self.es, self.alias, left.name, op, right, self.where)
        if isinstance(left, ast.Attribute) and isinstance(left.owner, ast.Identifier):
            return self._through(left.owner.name, left.attr, op, right)
        raise InvalidQuery(
            "$filter: compare a property (name, or Link/name one step away) with a value"
        )

    def _through(self, link: str, name: str, op: ast._Comparator, value: ast._Node) -> str:
        nav = self.es.navigation.get(link)
        if nav is None:
            raise InvalidQuery(
                f"$filter: {self.es.name} link to no {link!r}; "
                f"they link to: {', '.join(self.es.navigation)}"
            )
        target = ENTITY_SETS[nav.target]
        inner = f"t{len(self.where.params)}"
        condition = _compare(target, inner, name, op, value, self.where)
        mine = ", ".join(f"{self.alias}.{quote(a)}" for a, _ in nav.pairs)
        theirs = ", ".join(f"{inner}.{quote(b)}" for _, b in nav.pairs)
        return f"(({mine}) IN (SELECT {theirs} FROM ({target.view}) {inner} WHERE {condition}))"


def _compare(
    es: EntitySet, alias: str, name: str, op: ast._Comparator, value: ast._Node, where: Where
) -> str:
    prop = _prop(es, name, "$filter")
    column = f"{alias}.{quote(prop.column)}"
    if isinstance(op, ast.In):
        if prop.type in ("time", "interval") or not isinstance(value, ast.List):
            raise InvalidQuery(f"$filter: {name} in (...) takes a list of ids, names or numbers")
        values = [_value(name, prop, v) for v in value.val]
        return "(" + " OR ".join(_equal(es, alias, prop, column, v, where) for v in values) + ")"
    if type(op) not in _OPS:
        return _Condition(es, where, alias).generic_visit(op)
    if isinstance(value, ast.Null):
        if not isinstance(op, ast.Eq | ast.NotEq):
            raise InvalidQuery(f"$filter: {name} can only be eq or ne null")
        return f"{column} IS {'NOT ' if isinstance(op, ast.NotEq) else ''}NULL"
    v = _value(name, prop, value)
    if isinstance(op, ast.Eq | ast.NotEq) and prop.type == "id":
        equal = _equal(es, alias, prop, column, v, where)
        return equal if isinstance(op, ast.Eq) else f"(NOT {equal})"
    if prop.type == "interval" and isinstance(op, ast.Lt | ast.LtE):
        end = f"{alias}.{quote(prop.end or prop.column)}"
        bound = where.bind(v)
        if isinstance(op, ast.Lt):  # an instant is its own end: before v when it is < v
            instant_end = f"{column} + interval '1 microsecond'"
            return f"({column} < {bound} AND coalesce({end}, {instant_end}) <= {bound})"
        return f"({column} <= {bound} AND coalesce({end}, {column}) <= {bound})"
    return f"{column} {_OPS[type(op)]} {where.bind(v)}"


def _equal(es: EntitySet, alias: str, prop: Prop, column: str, v: Any, where: Where) -> str:
    """``=``; a composite id as its parts (the readings' key), so that PostgreSQL looks it up."""
    if prop.type != "id" or es.id_parts is None:
        return f"{column} = {where.bind(v)}"
    parts = es.id_parts(v)
    if parts is None:
        return "FALSE"
    equal = [f"{alias}.{quote(c)} = {where.bind(x)}" for c, x in parts.items()]
    return "(" + " AND ".join(equal) + ")"


def _value(name: str, prop: Prop, value: ast._Node) -> Any:
    if prop.type in ("time", "interval"):
        if not isinstance(value, ast.DateTime):
            raise InvalidQuery(f"$filter: compare {name} with a time, e.g. 2026-06-01T22:00:00Z")
        try:
            parsed = value.py_val
        except ValueError as error:
            raise InvalidQuery(f"$filter: {value.val!r} is not a time ({error})") from None
        if parsed.tzinfo is None:
            raise InvalidQuery(f"$filter: {value.val!r} has no time zone (add Z or +08:00)")
        return parsed
    if prop.type == "number":
        if not isinstance(value, ast.Integer | ast.Float):
            raise InvalidQuery(f"$filter: {name} is compared with a number")
        return float(value.py_val)
    if prop.type == "id" and isinstance(value, ast.Integer):
        return str(value.py_val)
    if not isinstance(value, ast.String):
        raise InvalidQuery(f"$filter: {name} is compared with a 'quoted' text")
    return value.py_val
