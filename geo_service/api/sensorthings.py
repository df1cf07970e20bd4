"""``/sta/v1.1``: the OGC SensorThings API 1.1, read only, over the monitors and readings.

Who may read it is who may read the ``monitors`` layer (``Principal.require_layer``): every
signed-in role, and anonymous callers where ``GEO_SERVICE_ANONYMOUS_LAYERS`` opens monitors.
Nothing here is personal (boundary noise and dust; a monitor's password is never selected).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from geo_service.api.deps import CollectionReader, EngineDep
from geo_service.sensorthings import options, read

router = APIRouter(prefix=f"/sta/{read.VERSION}", tags=["SensorThings API"])
LAYER = "monitors"

EntitySetName = Annotated[str, Path(description="Things, Datastreams, Observations, ...")]
Key = Annotated[str, Path(description="The entity's id, quoted: 'MN' or 'MN:a34002'")]
Link = Annotated[str, Path(description="A navigation link (Datastreams) or a property (name)")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


def _option(name: str, description: str) -> Any:
    return Query(alias=name, description=description)


def query_options(
    request: Request,
    top: Annotated[str | None, _option("$top", "Page size: 100 by default, at most 1000")] = None,
    skip: Annotated[str | None, _option("$skip", "Entities to skip")] = None,
    count: Annotated[str | None, _option("$count", "true: add @iot.count")] = None,
    orderby: Annotated[str | None, _option("$orderby", "e.g. phenomenonTime desc")] = None,
    select: Annotated[str | None, _option("$select", "e.g. id,result,phenomenonTime")] = None,
    filter_: Annotated[
        str | None, _option("$filter", "e.g. phenomenonTime ge 2026-06-01T00:00:00Z")
    ] = None,
    expand: Annotated[str | None, _option("$expand", "e.g. Datastreams($top=5)")] = None,
) -> dict[str, str]:
    """The query options as sent, checked by ``sensorthings.options`` (declared here for the
    OpenAPI document; an undeclared ``$option`` is refused there by name)."""
    return dict(request.query_params)


QueryOptions = Annotated[dict[str, str], Depends(query_options)]


@router.get("", summary="SensorThings service root: entity sets and conformance")
def service_root(request: Request, principal: CollectionReader) -> dict[str, Any]:
    principal.require_layer(LAYER)
    return read.root(_base(request))


@router.get("/{entity_set}({key})/{link}", summary="What an entity links to, or one property")
def related(
    request: Request,
    engine: EngineDep,
    principal: CollectionReader,
    entity_set: EntitySetName,
    key: Key,
    link: Link,
    raw: QueryOptions,
) -> dict[str, Any]:
    principal.require_layer(LAYER)
    es, entity_id = read.entity_set(entity_set), read.parse_key(key)
    with engine.connect() as conn:
        return read.related(conn, es, entity_id, link, raw, _base(request))


@router.get("/{entity_set}({key})", summary="One entity ($select, $expand)")
def entity(
    request: Request,
    engine: EngineDep,
    principal: CollectionReader,
    entity_set: EntitySetName,
    key: Key,
    raw: QueryOptions,
) -> dict[str, Any]:
    principal.require_layer(LAYER)
    es, entity_id = read.entity_set(entity_set), read.parse_key(key)
    with engine.connect() as conn:
        return read.entity(conn, es, entity_id, raw, _base(request))


@router.get(
    "/{entity_set}",
    summary="An entity set, a page at a time ($top $skip $count $orderby $select $filter $expand)",
)
def entities(
    request: Request,
    engine: EngineDep,
    principal: CollectionReader,
    entity_set: EntitySetName,
    raw: QueryOptions,
) -> dict[str, Any]:
    principal.require_layer(LAYER)
    es = read.entity_set(entity_set)
    opts = options.parse(es, raw)
    with engine.connect() as conn:
        return read.collection(conn, es, opts, _base(request), es.name, raw)
