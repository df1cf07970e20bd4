"""The one query builder over the layers: SQL that reads a layer's fields as its users see
them, written from the declarations in ``layers/``.

Every reader (the API, the OGC API and its tiles, the maps, search, exports) selects a
layer through ``LayerQuery``, so a field, a reference or a personal flag is handled in one
place. A reference field reads as the natural key it points to (a household's
``building`` is the building's address), through a join added only where the SQL uses it; a
many-valued one (a site's ``parcels``) as a sorted array from its link table. Personal
fields are readable only by a query made with ``personal=True``, which only a caller that
has checked the reader's right (and audits the read) makes.

Identifiers come from the registry and are quoted all the same; values are bound
parameters (``Where``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from geo_service.errors import InvalidQuery
from layers import COLLECTIONS, LAYERS, get_layer
from layers.base import Field, Latest, Layer, WorkCount

if TYPE_CHECKING:
    from geo_service.access import Principal

# The row of the layer's own table is ``m`` in every query built here.
ROW = "m"

# What a feature's properties are made of: field names, and (name, SQL) pairs.
Properties = Sequence[str | tuple[str, str]]


def quote(identifier: str) -> str:
    """A quoted SQL identifier (names come from the registry; quoted all the same)."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass
class Where:
    """SQL conditions and their bound parameters, numbered so parts never collide."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def sql(self) -> str:
        return " AND ".join(f"({c})" for c in self.clauses) if self.clauses else "TRUE"


def _linked_keys(link: str, owner_column: str, target: Layer, target_column: str, key: str) -> str:
    """The sorted ``key`` of the ``target`` rows that the table ``link`` pairs with ``m``."""
    return (
        f"ARRAY(SELECT t.{quote(key)} FROM {quote(link)} l "
        f"JOIN {quote(target.table)} t ON t.id = l.{quote(target_column)} "
        f"WHERE l.{quote(owner_column)} = {ROW}.id ORDER BY 1)"
    )


# Whose liaison work a query's work counts (``Layer.work_counts``) count: None, nobody's (the
# counts are not there); "all", every site's; or the ids of the sites the reader may read.
WorkSites = frozenset[int] | Literal["all"] | None


def work_sites(principal: Principal) -> WorkSites:
    """The sites whose visits and requests this reader may read, as ``WorkSites``."""
    sites = principal.request_site_ids()
    if sites is None:
        return "all"
    return frozenset(sites) or None


@dataclass(frozen=True)
class LayerQuery:
    """One layer's fields as SQL expressions over its table ``m``, with the joins they need."""

    layer: Layer
    personal: bool = False
    work_sites: WorkSites = None

    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields this query may read: the public ones, or all with ``personal``; and
        the work counts for a reader of the sites' liaison work."""
        own = self.layer.readable_fields if self.personal else self.layer.public_fields
        own = (*own, *(value.field for value in self.layer.latest))
        if self.work_sites is None:
            return own
        return (*own, *(w.field for w in self.layer.work_counts))

    @staticmethod
    def _latest(value: Latest) -> str:
        """SQL: the feature's newest reading of the factors, if recent enough."""
        factors = ", ".join(f"'{f}'" for f in value.factors)
        statistics = ", ".join(f"'{s}'" for s in value.statistics)
        return (
            f"(SELECT r.value FROM readings r WHERE r.monitor_id = {ROW}.id "
            f"AND r.factor IN ({factors}) AND r.statistic IN ({statistics}) "
            f"AND r.at > now() - interval '{int(value.within_hours)} hours' "
            "ORDER BY r.at DESC LIMIT 1)"
        )

    def _work_count(self, work: WorkCount) -> str:
        """SQL: how many rows of the work's table, of the readable sites, point at ``m``."""
        source = next(lay for lay in COLLECTIONS.values() if lay.table == work.table)
        ref = next(r for r in source.references if r.layer == self.layer.id)
        clauses = [f"w.{quote(ref.column)} = {ROW}.id"]
        if self.work_sites != "all":
            ids = ", ".join(str(int(i)) for i in sorted(self.work_sites or ()))
            clauses.append(f"w.site_id = ANY(ARRAY[{ids}]::bigint[])")
        if work.open_only:
            from geo_service.liaison.states import OPEN_STATES

            states = ", ".join("'" + s.replace("'", "''") + "'" for s in OPEN_STATES)
            clauses.append(f"w.state IN ({states})")
        return f"(SELECT count(*) FROM {quote(work.table)} w WHERE {' AND '.join(clauses)})"

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise InvalidQuery(
            f"{self.layer.id} has no property {name!r}; its properties are: "
            + ", ".join(f.name for f in self.fields)
        )

    @property
    def fid(self) -> str:
        """The feature id (a code, or the row id) as SQL."""
        return f"{ROW}.{quote(self.layer.feature_id)}"

    @property
    def fid_is_integer(self) -> bool:
        return self.layer.feature_id == "id" and not self.layer.computed

    @cached_property
    def _sql(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Each field's SQL expression, and the joins they need: alias -> (table, column of
        ``m`` holding the joined row's id)."""
        exprs: dict[str, str] = {}
        joins: dict[str, tuple[str, str]] = {}
        work = {w.field.name: w for w in self.layer.work_counts}
        latest = {value.field.name: value for value in self.layer.latest}
        for n, fld in enumerate(self.fields):
            ref = self.layer.reference(fld.name)
            if fld.name in work:
                exprs[fld.name] = self._work_count(work[fld.name])
            elif fld.name in latest:
                exprs[fld.name] = self._latest(latest[fld.name])
            elif ref is None:
                exprs[fld.name] = f"{ROW}.{quote(fld.name)}"
            elif ref.link is not None:
                exprs[fld.name] = _linked_keys(
                    ref.link.table, ref.link.owner_column, get_layer(ref.layer), ref.column, ref.key
                )
            else:
                alias = f"r{n}"
                joins[alias] = (quote(get_layer(ref.layer).table), quote(ref.column))
                exprs[fld.name] = f"{alias}.{quote(ref.key)}"
        return exprs, joins

    def expr(self, name: str) -> str:
        """A field as SQL (a reference as the key it points to); 400 for an unknown one."""
        self.field(name)
        return self._sql[0][name]

    def referrers(self) -> dict[str, str]:
        """The layers that link to this one by a many-valued reference, each as the sorted
        keys of the rows that name a row of ``m`` (a parcel's ``sites``)."""
        found = {}
        for other in LAYERS.values():
            for ref in other.references:
                if ref.link is not None and ref.layer == self.layer.id:
                    found[other.id] = _linked_keys(
                        ref.link.table,
                        ref.column,
                        other,
                        ref.link.owner_column,
                        other.natural_key[0],
                    )
        return found

    @property
    def source(self) -> str:
        """``FROM`` the layer's table with the joins its reference fields need."""
        return self.source_for(None)

    def source_for(self, sql: str | None) -> str:
        """``FROM`` the table with only the joins ``sql`` mentions (all when None).

        An unneeded join, even one PostgreSQL removes, keeps the planner from reading the
        ids of a page from the primary key alone (an index-only scan).
        """
        used = [
            f"LEFT JOIN {table} {alias} ON {alias}.id = {ROW}.{column}"
            for alias, (table, column) in self._sql[1].items()
            if sql is None or f"{alias}." in sql
        ]
        return f"{quote(self.layer.table)} {ROW} " + " ".join(used)

    def narrow_select(self, columns: str, where: str) -> str:
        """``columns`` of a CTE ``m`` of the rows matching ``where``, joined to only the
        rows they refer to.

        For a tile: its 1,700 households name some 50 buildings, and joining those beats
        the planner's choice of hashing all 25,000 (or a parallel worker, slower still).
        """
        joins = " ".join(
            f"LEFT JOIN (SELECT * FROM {table} WHERE id IN (SELECT {column} FROM {ROW})) "
            f"{alias} ON {alias}.id = {ROW}.{column}"
            for alias, (table, column) in self._sql[1].items()
        )
        return (
            f"WITH {ROW} AS MATERIALIZED (SELECT * FROM {quote(self.layer.table)} {ROW} "
            f"WHERE {where}) SELECT {columns} FROM {ROW} {joins}"
        )

    def properties_json(self, items: Properties) -> str:
        """``json_build_object`` of these fields (by name) and computed values (name, SQL),
        in order."""
        pairs = [(i, self.expr(i)) if isinstance(i, str) else i for i in items]
        return "json_build_object(" + ", ".join(f"'{n}', {sql}" for n, sql in pairs) + ")"

    def feature_json(self, items: Properties, digits: int | None = None) -> str:
        """A GeoJSON Feature of ``m`` as a ``json`` expression: its id, its geometry (to
        ``digits`` decimals, default all) and these properties."""
        geom = f"ST_AsGeoJSON({ROW}.geom{'' if digits is None else f', {int(digits)}'})::json"
        return (
            f"json_build_object('type', 'Feature', 'id', {self.fid}, 'geometry', {geom}, "
            f"'properties', {self.properties_json(items)})"
        )

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def public(layer_id: str) -> LayerQuery:
    """The public fields of a layer (stored or computed): what any reader of it may see."""
    return LayerQuery(COLLECTIONS[layer_id])
