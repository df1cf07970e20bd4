"""Folium map builders, legends and controls, and the vendored offline web assets.

The maps are drawn from the ``layers`` registry; nothing here is loaded from a CDN.
"""
