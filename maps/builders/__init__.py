"""The three maps: the overview, one site, one community; folium figures, local assets only.

``overview_map`` draws everything that grows with the city from the service's vector tiles
(``/ogc/.../tiles/WebMercatorQuad/{z}/{x}/{y}``) and embeds only the sites. ``site_map`` and
``community_map`` embed their bounded data, so they also work as one stand-alone file.
Popups show the layers' public fields only; no personal field is ever put on a map.

What belongs here, by concern:

- one module per map: ``overview``, ``site``, ``community`` (which overlays, in which
  groups, with which legend);
- ``frame``: what every map shares (the frame with its tools, a layer's overlay, the layer
  switcher and controls);
- ``popups`` (the fields and links a popup shows), ``legend``, ``basemaps``;
- ``elements``: the folium elements whose scripts call ``maps.js``.

What the maps draw (the SQL) is ``maps.data``; a whole page is ``maps.pages``. Callers
import from this package, not from its modules.
"""

from maps.builders.basemaps import Basemap, basemap, check_default
from maps.builders.community import community_map
from maps.builders.overview import overview_map
from maps.builders.site import site_map

__all__ = ["Basemap", "basemap", "check_default", "community_map", "overview_map", "site_map"]
