"""The registry of spatial layers, in dependency order (a layer only references earlier ones)."""

from __future__ import annotations

from geo_service.errors import UnknownLayer
from layers import (
    buildings,
    communities,
    households,
    impact_zones,
    monitors,
    parcels,
    requests,
    sites,
    visits,
)
from layers.base import Field, Layer, Reference

LAYERS: dict[str, Layer] = {
    layer.id: layer
    for layer in (
        parcels.LAYER,
        sites.LAYER,
        communities.LAYER,
        buildings.LAYER,
        households.LAYER,
        monitors.LAYER,
    )
}

# Stored layers written by the service's own workflows (liaison case work): tables and
# collections like the others, but never imported through the generic path.
WORKFLOW_LAYERS: dict[str, Layer] = {layer.id: layer for layer in (requests.LAYER, visits.LAYER)}

# Every layer with a table of its own, in dependency order.
STORED_LAYERS: dict[str, Layer] = {**LAYERS, **WORKFLOW_LAYERS}

# Layers the service computes (views): served as collections and tiles, never imported.
COMPUTED_LAYERS: dict[str, Layer] = {layer.id: layer for layer in (impact_zones.LAYER,)}

# Everything a reader may be shown: the OGC API's collections.
COLLECTIONS: dict[str, Layer] = {**LAYERS, **WORKFLOW_LAYERS, **COMPUTED_LAYERS}


def get_layer(layer_id: str) -> Layer:
    """The layer with this id, or an error that lists the ones there are."""
    try:
        return LAYERS[layer_id]
    except KeyError:
        if layer_id in WORKFLOW_LAYERS:
            raise UnknownLayer(
                f"{layer_id} are written through their own API (/api/{layer_id}), "
                "not imported as a layer; import a sheet of them for one site with "
                f"geo-service import {layer_id} FILE --site CODE, or "
                f"POST /api/sites/{{site}}/imports/{layer_id}"
            ) from None
        raise UnknownLayer(f"unknown layer {layer_id!r}; layers are: {', '.join(LAYERS)}") from None


__all__ = [
    "COLLECTIONS",
    "COMPUTED_LAYERS",
    "LAYERS",
    "STORED_LAYERS",
    "WORKFLOW_LAYERS",
    "Field",
    "Layer",
    "Reference",
    "get_layer",
]
