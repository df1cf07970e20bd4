"""Answers of the SensorThings API: the service root, a collection (one page of it, with
``@iot.count`` and ``@iot.nextLink``), one entity, and what an entity links to.

A page is one statement; each ``$expand`` item one more, a ``LATERAL`` join from the page's
entities, so a page of Datastreams with their newest Observation reads each datastream's
readings by its key, not all of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from sqlalchemy import Connection, text

from geo_service.errors import InvalidQuery, NotFound
from geo_service.query import Where, quote
from geo_service.sensorthings import options
from geo_service.sensorthings.entities import ENTITY_SETS, EntitySet, Navigation, view_params
from geo_service.sensorthings.options import Expand, Options

VERSION = "v1.1"
CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
)


def entity_set(name: str) -> EntitySet:
    found = ENTITY_SETS.get(name)
    if found is None:
        raise NotFound(f"no entity set {name!r}; they are: {', '.join(ENTITY_SETS)}")
    return found


def parse_key(key: str) -> str:
    """``'MN'`` (quotes doubled inside) or a number, as the id it names."""
    if len(key) >= 2 and key[0] == key[-1] == "'":
        return key[1:-1].replace("''", "'")
    if key.isdigit():
        return key
    raise InvalidQuery(f"({key}) is not an id: ids are quoted, e.g. Things('010000A8900016F0')")


def root(base: str) -> dict[str, Any]:
    return {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
        "serverSettings": {"conformance": list(CONFORMANCE)},
    }


def self_link(base: str, es: EntitySet, entity_id: str) -> str:
    quoted = url_quote(entity_id.replace("'", "''"), safe="':.-_~@!$*+,;=")
    return f"{base}/{es.name}('{quoted}')"


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _value(row: Mapping[str, Any], name: str) -> Any:
    if name == "phenomenonTime":
        start, end = row["_start"], row["_end"]
        return _time(start) if end is None else f"{_time(start)}/{_time(end)}"
    value = row[name]
    return _time(value) if isinstance(value, dt.datetime) else value


def _entity(es: EntitySet, row: Mapping[str, Any], base: str, opts: Options) -> dict[str, Any]:
    chosen = opts.select
    link = self_link(base, es, row["id"])
    out: dict[str, Any] = {}
    if chosen is None or "id" in chosen:
        out["@iot.id"] = row["id"]
    out["@iot.selfLink"] = link
    out.update({p: _value(row, p) for p in es.output if chosen is None or p in chosen})
    for nav in es.navigation:
        if chosen is None or nav in chosen:
            out[f"{nav}@iot.navigationLink"] = f"{link}/{nav}"
    return out


def _page_sql(es: EntitySet, where: Where, opts: Options) -> str:
    return (
        f"SELECT * FROM ({es.view}) e WHERE {where.sql()} ORDER BY {', '.join(opts.order)} "
        f"LIMIT {opts.top + 1} OFFSET {opts.skip}"
    )


def collection(
    conn: Connection,
    es: EntitySet,
    opts: Options,
    base: str,
    path: str,
    raw: Mapping[str, str],
    within: Where | None = None,
) -> dict[str, Any]:
    """One page of ``es`` (``within``: the entities an entity links to), ``path`` being the
    collection's address under ``base``, for the next page's link."""
    where = _merged(opts.where, within)
    params = {**view_params(base), **where.params}
    rows = [dict(r) for r in conn.execute(text(_page_sql(es, where, opts)), params).mappings()]
    out: dict[str, Any] = {}
    if opts.count:
        count = f"SELECT count(*) FROM ({es.view}) e WHERE {where.sql()}"
        out["@iot.count"] = conn.execute(text(count), params).scalar_one()
    if len(rows) > opts.top:
        rows = rows[: opts.top]
        if opts.top > 0:  # $top=0 asks for the count alone: no page follows
            following = {**raw, "$top": str(opts.top), "$skip": str(opts.skip + opts.top)}
            out["@iot.nextLink"] = f"{base}/{path}?{_query(following)}"
    out["value"] = _with_expansions(conn, es, rows, opts, base)
    return out


def _query(params: Mapping[str, str]) -> str:
    """A query string that keeps ``$`` and quotes readable, as clients write them."""
    return urlencode(params, safe="$'(),;:/")


def _merged(where: Where, within: Where | None) -> Where:
    if within is None:
        return where
    merged = Where(list(where.clauses), dict(where.params))
    for name, value in within.params.items():
        if name in merged.params:
            raise ValueError(f"parameter {name} bound twice")
        merged.params[name] = value
    merged.clauses += within.clauses
    return merged


def _with_expansions(
    conn: Connection, es: EntitySet, rows: list[dict], opts: Options, base: str
) -> list[dict[str, Any]]:
    entities = [_entity(es, r, base, opts) for r in rows]
    for item in opts.expand:
        nav = es.navigation[item.name]
        found = _expanded(conn, nav, rows, item, base)
        for n, entity in enumerate(entities):
            children = found.get(n, [])
            if not nav.many:
                entity[item.name] = children[0] if children else None
                continue
            top = item.options.top
            entity[item.name] = children[:top]
            if len(children) > top > 0:  # more follow (none when $top=0 asked for none)
                following = {
                    **item.raw,
                    "$top": str(item.options.top),
                    "$skip": str(item.options.skip + item.options.top),
                }
                link = self_link(base, es, rows[n]["id"])
                entity[f"{item.name}@iot.nextLink"] = f"{link}/{item.name}?{_query(following)}"
    return entities


def _array_type(values: list[Any]) -> str:
    return "bigint[]" if values and isinstance(values[0], int) else "text[]"


def _expanded(
    conn: Connection, nav: Navigation, rows: list[dict], item: Expand, base: str
) -> dict[int, list[dict[str, Any]]]:
    """The linked entities of each row (by the row's position), ``item``'s options applied."""
    if not rows:
        return {}
    target = ENTITY_SETS[nav.target]
    opts = item.options
    where = Where(list(opts.where.clauses), dict(opts.where.params))
    keys, joins = [], []
    for n, (mine, theirs) in enumerate(nav.pairs):
        values = [r[mine] for r in rows]
        name = f"k{n}"
        where.params[name] = values
        keys.append(f"CAST(:{name} AS {_array_type(values)})")
        joins.append(f"e.{quote(theirs)} = p.k{n}")
    where.clauses += joins
    limit = opts.top + 1 if nav.many else 1
    columns = ", ".join(f"k{n}" for n in range(len(nav.pairs)))
    sql = f"""SELECT p.n - 1 AS _row, c.* FROM unnest({", ".join(keys)}) WITH ORDINALITY
  AS p({columns}, n)
CROSS JOIN LATERAL (SELECT * FROM ({target.view}) e WHERE {where.sql()}
  ORDER BY {", ".join(opts.order)} LIMIT {limit} OFFSET {opts.skip if nav.many else 0}) c"""
    found: dict[int, list[dict[str, Any]]] = {}
    params = {**view_params(base), **where.params}
    for r in conn.execute(text(sql), params).mappings():
        found.setdefault(r["_row"], []).append(_entity(target, r, base, opts))
    return found


def _one(conn: Connection, es: EntitySet, entity_id: str, base: str) -> dict[str, Any]:
    """The view's row of ``entity_id``; 404 when there is none."""
    where = Where()
    prop = es.filterable["id"]
    where.add(options._equal(es, "e", prop, "e.id", entity_id, where))
    sql = f"SELECT * FROM ({es.view}) e WHERE {where.sql()} LIMIT 1"
    row = conn.execute(text(sql), {**view_params(base), **where.params}).mappings().first()
    if row is None:
        raise NotFound(f"no {es.name} entity has the id {entity_id!r}")
    return dict(row)


def entity(
    conn: Connection, es: EntitySet, entity_id: str, raw: Mapping[str, str], base: str
) -> dict[str, Any]:
    """One entity; ``$select`` and ``$expand`` apply (the other options are for collections)."""
    opts = options.parse(es, {k: v for k, v in raw.items() if k in ("$select", "$expand")})
    row = _one(conn, es, entity_id, base)
    return _with_expansions(conn, es, [row], opts, base)[0]


def related(
    conn: Connection,
    es: EntitySet,
    entity_id: str,
    name: str,
    raw: Mapping[str, str],
    base: str,
) -> dict[str, Any]:
    """What ``Things('MN')/Datastreams`` names: the linked collection or entity, or one
    property of the entity (``{"name": ...}``)."""
    if name not in es.navigation and name not in es.properties:
        raise NotFound(
            f"{es.name} have no link or property {name!r}; links: {', '.join(es.navigation)}; "
            f"properties: {', '.join(es.properties)}"
        )
    row = _one(conn, es, entity_id, base)
    if name not in es.navigation:
        return {name: row["id"] if name == "id" else _value(row, name)}
    nav = es.navigation[name]
    target = ENTITY_SETS[nav.target]
    within = Where()
    for mine, theirs in nav.pairs:
        within.add(f"e.{quote(theirs)} = :_parent_{theirs}")
        within.params[f"_parent_{theirs}"] = row[mine]
    if not nav.many:
        opts = options.parse(target, {k: v for k, v in raw.items() if k in ("$select", "$expand")})
        sql = f"SELECT * FROM ({target.view}) e WHERE {within.sql()} LIMIT 1"
        found = conn.execute(text(sql), {**view_params(base), **within.params}).mappings().first()
        if found is None:
            raise NotFound(f"{es.name}({entity_id!r}) links to no {name}")
        return _with_expansions(conn, target, [dict(found)], opts, base)[0]
    opts = options.parse(target, raw)
    path = self_link("", es, entity_id).lstrip("/") + f"/{name}"
    return collection(conn, target, opts, base, path, raw, within)
