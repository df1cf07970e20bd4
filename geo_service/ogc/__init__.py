"""OGC API - Features (Parts 1-3) and vector tiles over the layer registry.

A flat package by concern, as tipg's: ``crs`` (the CRSs offered and their axis order),
``collections`` (a layer as SQL: fields, queryables, the GeoJSON page assembled in
PostgreSQL), ``filters`` (CQL2 to SQL with bound parameters), ``params`` (the query
parameters: one declaration and one small parser each), ``tiles`` (MVT and tile set
metadata), ``openapi`` (the document, derived from ``params``); the routers ``routes``
(features) and ``tile_routes`` (tiles), and ``answers``, which both answer through (who
may read a collection; ETag and 304).
"""
