"""Folium map builders, legends and controls, and the vendored offline web assets.

The maps are drawn from the ``layers`` registry; nothing here is loaded from a CDN.

What belongs here, by concern:

- ``builders``: the maps themselves, one module per map, and what they share (frame,
  popups, legend, basemaps, the folium elements that call ``static/maps.js``);
- ``data``: what the maps draw, as GeoJSON that PostgreSQL assembles (public fields only);
- ``pages``: a whole page, the same for the web service and ``geo-service map``;
- ``labels``: the words on the maps, in Chinese and English;
- ``gcj02``: the display-only shift onto AMap's GCJ-02 tiles;
- ``assets`` and ``vendor``: the offline web assets (served, inlined, and fetched once by a
  maintainer into ``static/vendor``).
"""
