/* geo-service maps: styles, popups, search, legend, minimap and the GCJ-02 display shift.
   Served by the service itself (or inlined into one file); no request leaves it. */
(function () {
  "use strict";
  var GS = (window.GeoService = { config: {}, sites: {}, shift: false, map: null });

  /* WGS84 -> GCJ-02, the twin of maps/gcj02.py (tests compare the two). */
  GS.gcj02 = function (lon, lat) {
    if (!(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271)) return [lon, lat];
    var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI, x = lon - 105.0, y = lat - 35.0;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dLat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    dLat += (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dLon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    dLon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var rad = lat / 180.0 * PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), sq = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((A * (1 - EE)) / (magic * sq) * PI);
    dLon = (dLon * 180.0) / (A / sq * Math.cos(rad) * PI);
    return [lon + dLon, lat + dLat];
  };
  GS.latLng = function (lon, lat) {
    var p = GS.shift ? GS.gcj02(lon, lat) : [lon, lat];
    return L.latLng(p[1], p[0]);
  };
  GS.coordsToLatLng = function (c) { return GS.latLng(c[0], c[1]); };

  GS.escape = function (s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  };
  GS.label = function (key) { return (GS.config.labels || {})[key] || key; };
  GS.value = function (field, v) {
    if (v === null || v === undefined || v === "") return "–";
    if (Array.isArray(v)) return v.map(function (x) { return GS.value(field, x); }).join("、");
    var choices = (GS.config.choices || {})[field];
    if (choices && choices[v] !== undefined) return choices[v];
    if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(1);
    return v;
  };
  /* fields: [[name, label], ...]; extra: trusted HTML built by the page (links). */
  GS.popup = function (title, props, fields, extra) {
    var rows = fields.filter(function (f) { return f[0] in props; }).map(function (f) {
      return "<tr><th>" + GS.escape(f[1]) + "</th><td>" + GS.escape(GS.value(f[0], props[f[0]])) + "</td></tr>";
    });
    return '<div class="gs-popup"><h4>' + GS.escape(title) + "</h4><table>" + rows.join("") +
      "</table>" + (extra || "") + "</div>";
  };

  GS.landUseColour = function (props) {
    var colours = GS.config.landUse || {}, code = String(props.code || ""), parts = code.split("-");
    var use = parts.length === 3 ? parts[1].split("/")[0] : String(props.land_use || "").replace(/[{}\[\]"]/g, "").split(",")[0];
    return colours[use] || colours[use.slice(0, 2)] || colours[use.charAt(0)] || "#cccccc";
  };

  /* Styles by name, used by tile and GeoJSON layers alike; each returns a Leaflet path style. */
  GS.styles = {
    parcels: function (p) { return { color: "#555555", weight: 0.6, fill: true, fillColor: GS.landUseColour(p), fillOpacity: 0.55 }; },
    sites: function (p) {
      var s = GS.config.siteStatus || {}, k = GS.config.siteKindDash || {};
      return { color: s[p.status] || "#d62728", weight: 3, dashArray: k[p.kind] || null, fill: true, fillOpacity: 0.3 };
    },
    communities: function () { return { color: "#1f77b4", weight: 2, fill: true, fillOpacity: 0.06 }; },
    buildings: function (p) {
      var n = p.affected || 0;
      return { color: "#555555", weight: 0.8, fill: true, fillColor: n ? "#e6550d" : "#9e9e9e", fillOpacity: n ? 0.75 : 0.45 };
    },
    impact_zones: function (p) {
      var bands = GS.config.bandColours || [], kinds = GS.config.zoneColours || {};
      if (p.kind === "band") return { color: bands[(p.band || 1) - 1] || "#9467bd", weight: 1, fill: true, fillOpacity: 0.12 };
      return { color: kinds[p.kind] || "#9467bd", weight: 2, dashArray: "6 4", fill: false };
    },
    households: function (p) {
      var n = Number(p.count || p.households || 1);
      return { radius: Math.min(2.5 + Math.log2(n) * 1.5, 14), color: "#ff7f0e", weight: 0.5, fill: true, fillOpacity: 0.7 };
    },
    monitors: function (p) {
      var colours = GS.config.monitorStates || {};
      return { radius: 7, color: "#222222", weight: 1.5, fill: true, fillColor: colours[p.monitor_state] || "#9467bd", fillOpacity: 0.95 };
    },
    exposure: function (p) {
      var e = Math.max(Number(p.exceed_day || 0), Number(p.exceed_night || 0)), steps = GS.config.exposureSteps || [];
      var colour = "#2ca02c";
      steps.forEach(function (s) { if (e > s[0]) colour = s[1]; });
      return { radius: 4, color: "#333333", weight: 0.4, fill: true, fillColor: colour, fillOpacity: 0.9 };
    }
  };

  /* A popup's link, when the feature has its value (``$id``: the feature's own id) and the
     reader may open the page (``only``: the values they may; a 403 is a dead end). */
  function linkFor(link, props, fid) {
    var value = link.field === "$id" ? fid : props[link.field];
    if (value === undefined || value === null) return "";
    if (link.only && link.only.indexOf(String(value)) < 0) return "";
    return '<p><a class="gs-link" href="' + GS.escape(link.href.replace("{}", encodeURIComponent(value))) +
      '">' + GS.escape(link.text) + "</a></p>";
  }

  function popupFor(spec, props, fid) {
    var title = props[spec.titleField] || spec.title;
    var extra = spec.link ? linkFor(spec.link, props, fid) : "";
    if (spec.exportLink) extra += '<p><a href="' + GS.escape(spec.exportLink.href) + '">' + GS.escape(spec.exportLink.text) + "</a></p>";
    return GS.popup(title, props, spec.fields, extra);
  }

  /* The vector tile layers, in the order they are drawn; a click asks each what lies under it. */
  GS.tileLayers = [];
  GS.embedded = [];
  function tileKey(c) { return c.x + ":" + c.y + ":" + c.z; }

  /* A layer from the service's vector tiles; every source layer in a tile gets spec's style.
     Each tile's renderer is kept by its key, so a click can be looked up in every layer:
     the topmost tile canvas receives the DOM event and would hide the layers beneath it. */
  GS.tiles = function (map, spec) {
    var style = GS.styles[spec.style], renderers = {};
    var styles = new Proxy({}, { get: function () { return function (p) { return style(p); }; } });
    var layer = L.vectorGrid.protobuf(spec.url, {
      pane: "gsTiles", interactive: true, maxNativeZoom: 22, tolerance: L.Browser.mobile ? 8 : 3,
      minZoom: spec.minZoom || 0, vectorTileLayerStyles: styles,
      getFeatureId: function (f) { return f.id; },
      fetchOptions: { credentials: "same-origin" },
      rendererFactory: function (coords, size, options) {
        var r = L.canvas.tile(coords, size, options);
        renderers[tileKey(coords)] = r;
        return r;
      }
    });
    layer.on("tileunload", function (e) { delete renderers[tileKey(e.coords)]; });
    GS.tileLayers.push({ layer: layer, spec: spec, renderers: renderers });
    return layer;
  };

  /* The service's own vector basemap (GEO_SERVICE_MAP_BASEMAP_FILE): every source layer in
     plain greys by what its name says it holds (water, roads, buildings, else land), labels
     and points left out; under every overlay and never clickable. */
  GS.basemapStyle = function (name) {
    var n = String(name).toLowerCase();
    if (/label|place|poi|name|housenum/.test(n)) return [];
    /* Areas without outlines: a polygon cut at a tile's edge would show the tile grid. */
    if (/water|ocean|river|lake|sea/.test(n)) return { fill: true, fillColor: "#cdd5db", fillOpacity: 1, stroke: false };
    if (/road|street|transport|highway|rail|path/.test(n)) return { color: "#ffffff", weight: 2, opacity: 1, fill: false };
    if (/building/.test(n)) return { fill: true, fillColor: "#d0d0d0", fillOpacity: 1, stroke: false };
    return { fill: true, fillColor: "#ececec", fillOpacity: 1, stroke: false };
  };
  GS.basemap = function (map, spec) {
    var styles = new Proxy({}, { get: function (_, name) { return GS.basemapStyle(name); } });
    return L.vectorGrid.protobuf(spec.url, {
      interactive: false, minZoom: spec.minZoom, maxNativeZoom: spec.maxNativeZoom, maxZoom: 20,
      bounds: spec.bounds, attribution: spec.attribution, vectorTileLayerStyles: styles,
      rendererFactory: L.canvas.tile, fetchOptions: { credentials: "same-origin" }
    }).addTo(map);
  };

  /* Inside a filled polygon's rings (ray casting, as Leaflet's, but without the stroke's
     tolerance, which would answer for the neighbouring parcel a few pixels away). */
  function inside(feature, p) {
    var parts = feature._parts, within = false;
    for (var i = 0; i < parts.length; i++) {
      for (var j = 0, k = parts[i].length - 1; j < parts[i].length; k = j++) {
        var a = parts[i][j], b = parts[i][k];
        if ((a.y > p.y) !== (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) within = !within;
      }
    }
    return within;
  }

  /* A filled polygon is hit inside; a line (a noise-limit contour drawn without fill) on it;
     a point within its radius. */
  function hits(feature, p) {
    if (!feature._parts) return feature._containsPoint(p);
    if (feature instanceof L.Polygon && feature.options.fill !== false) return inside(feature, p);
    return L.Polyline.prototype._containsPoint.call(feature, p, feature instanceof L.Polygon);
  }

  /* The feature of one tile layer under ``latlng``, or null (also when the layer is hidden). */
  GS.featureAt = function (map, entry, latlng) {
    var layer = entry.layer, z = layer._tileZoom;
    if (!map.hasLayer(layer) || z === undefined || map.getZoom() < (layer.options.minZoom || 0)) return null;
    var size = layer.getTileSize(), p = map.project(latlng, z).subtract(GS.tileShift);
    var coords = L.point(Math.floor(p.x / size.x), Math.floor(p.y / size.y));
    coords.z = z;
    var renderer = entry.renderers[tileKey(coords)], found = null;
    if (!renderer) return null;
    var local = p.subtract(coords.scaleBy(size));
    for (var id in renderer._layers) { if (hits(renderer._layers[id], local)) found = renderer._layers[id]; }
    if (found) {  // the tile feature's id (VectorGrid keeps it only in its index by id)
      for (var fid in renderer._features) { if (renderer._features[fid].feature === found && fid !== "undefined") found.gsId = fid; }
    }
    return found;
  };

  /* Popups fit the map: narrower than it, shorter than it (then they scroll), and panned
     clear of the title at the top. */
  GS.popupOptions = function (map) {
    var size = map.getSize();
    return { maxWidth: Math.min(360, size.x - 40), minWidth: Math.min(200, size.x - 40),
      maxHeight: Math.max(160, size.y - 160), autoPanPaddingTopLeft: [10, 56], autoPanPaddingBottomRight: [10, 16] };
  };

  /* A click on the map: what every tile layer holds there, topmost first, in one popup.
     Embedded features (sites, an SVG path) open their own popup and are left alone. */
  function identify(map, e) {
    var target = e.originalEvent && e.originalEvent.target;
    if (target instanceof SVGElement) return;
    var found = [];
    GS.tileLayers.slice().reverse().forEach(function (entry) {
      var f = GS.featureAt(map, entry, e.latlng);
      if (f) found.push('<div class="gs-popup-layer">' + GS.escape(entry.spec.title) + "</div>" + popupFor(entry.spec, f.properties || {}, f.gsId));
    });
    if (found.length) L.popup(GS.popupOptions(map)).setLatLng(e.latlng).setContent(found.join("")).openOn(map);
  }

  /* A GeoJSON layer drawn from data in the page (bounded: sites, one site's households). */
  /* Which pane each style draws in: what a user clicks for (households, buildings) on top,
     sites below them, the large areas (parcels, communities, bands) beneath both. */
  GS.panes = { parcels: "gsAreas", communities: "gsAreas", impact_zones: "gsAreas",
    sites: "overlayPane", buildings: "gsFeatures", households: "gsFeatures", exposure: "gsFeatures",
    monitors: "gsFeatures" };

  GS.geojson = function (map, data, spec) {
    var style = GS.styles[spec.style], pane = GS.panes[spec.style] || "overlayPane";
    var interactive = spec.interactive !== false;
    var layer = L.geoJSON(data, {
      coordsToLatLng: GS.coordsToLatLng, pane: pane, interactive: interactive,
      style: function (f) { return style(f.properties || {}); },
      pointToLayer: function (f, ll) {
        return L.circleMarker(ll, L.extend({ pane: pane, interactive: interactive }, style(f.properties || {})));
      },
      onEachFeature: function (f, layer) {
        if (interactive) layer.bindPopup(popupFor(spec, f.properties || {}, f.id), GS.popupOptions(map));
        if (spec.register) GS[spec.register][f.id || f.properties[spec.titleField]] = layer;
      }
    });
    layer.sourceData = data;  // the minimap draws from it: the page carries the data once
    GS.embedded.push({ layer: layer, spec: spec });
    return layer;
  };

  /* Phones (a narrow map): controls start folded, no minimap, popups above the controls. */
  GS.small = function (map) { return map.getSize().x < 600; };

  /* A control that folds to one button (44 px, a finger's width), its label ``key``. */
  GS.foldable = function (div, key, folded) {
    L.DomUtil.addClass(div, "gs-foldable");
    var button = L.DomUtil.create("button", "gs-fold", div);
    button.type = "button";
    button.textContent = GS.label(key);
    div.insertBefore(button, div.firstChild);
    function set(fold) {
      L.DomUtil[fold ? "addClass" : "removeClass"](div, "gs-folded");
      button.setAttribute("aria-expanded", String(!fold));
    }
    set(folded);
    L.DomEvent.on(button, "click", function (e) {
      L.DomEvent.stop(e);
      set(!L.DomUtil.hasClass(div, "gs-folded"));
      div.dispatchEvent(new CustomEvent("gs-fold", { bubbles: true }));  /* GS.keepClear */
    });
    L.DomEvent.disableClickPropagation(div);
    div.gsFold = set;
    return button;
  };

  GS.legend = function (map, html) {
    var ctl = L.control({ position: "bottomleft" });
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "gs-legend leaflet-bar");
      var body = L.DomUtil.create("div", "gs-legend-body", div);
      body.innerHTML = html;
      GS.foldable(div, "legend", GS.small(map));
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    ctl.addTo(map);
    GS.keepClear(map, true);
    /* The layer switcher (folium's, added just before) folds the same way. */
    var layers = map.getContainer().querySelector(".leaflet-control-layers");
    if (layers) GS.foldable(layers, "layer_switcher", GS.small(map));
  };

  /* On a phone a popup opens between the controls, never under them: the open controls fold,
     and the popup is kept (and panned) clear of the column of controls above and below it. */
  GS.clearOfControls = function (map) {
    var box = map.getContainer().getBoundingClientRect(), top = 0, bottom = box.height;
    Array.prototype.forEach.call(map.getContainer().querySelectorAll(".gs-foldable"), function (div) {
      if (!L.DomUtil.hasClass(div, "gs-folded")) div.gsFold(true);
    });
    Array.prototype.forEach.call(map.getContainer().querySelectorAll(".leaflet-control"), function (c) {
      var r = c.getBoundingClientRect();
      if (!r.height) return;
      if (c.closest(".leaflet-top")) top = Math.max(top, r.bottom - box.top);
      else bottom = Math.min(bottom, r.top - box.top);
    });
    return { autoPanPaddingTopLeft: L.point(8, top + 8), autoPanPaddingBottomRight: L.point(8, box.height - bottom + 8),
      maxHeight: Math.max(120, bottom - top - 70) };
  };
  var update = L.Popup.prototype.update;
  L.Popup.include({
    update: function () {
      if (this._map && GS.small(this._map)) L.extend(this.options, GS.clearOfControls(this._map));
      return update.apply(this, arguments);
    }
  });

  GS.scale = function (map) { L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map); };

  GS.goTo = function (map, r) {
    var ll = GS.latLng(r.lon, r.lat), b = r.bbox;
    if (b && (b[2] - b[0] > 1e-7 || b[3] - b[1] > 1e-7)) {
      map.fitBounds(L.latLngBounds(GS.latLng(b[0], b[1]), GS.latLng(b[2], b[3])), { maxZoom: 18, animate: false });
    } else {
      map.setView(ll, 18, { animate: false });
    }
    var site = r.layer === "sites" && GS.sites[r.id];
    if (site) { site.openPopup(); return; }
    var fields = [["layer", GS.label("layer")], ["detail", GS.label("detail")]];
    var props = { layer: GS.label(r.layer), detail: r.detail };
    L.popup().setLatLng(ll).setContent(GS.popup(r.label, props, fields)).openOn(map);
  };

  /* The search box (top left) and the legend (bottom left) share the left edge: the results
     list must end above the legend and the open legend below the box. Sizes are handed to
     the stylesheet (--gs-results-room, --gs-legend-room), which caps them with its own
     limits. The one just used wins: new results shrink the legend, or fold it when less
     than MIN_ROOM would be left of it; a legend opened over results closes the list. */
  var GAP = 8, MIN_ROOM = 100;
  GS.keepClear = function (map, legendFirst) {
    var box = map.getContainer(), search = box.querySelector(".gs-search"), legend = box.querySelector(".gs-legend");
    if (!search || !legend) return;
    var input = search.querySelector(".gs-search-input"), list = search.querySelector(".gs-search-results");
    var body = legend.querySelector(".gs-legend-body");
    box.style.removeProperty("--gs-results-room");
    box.style.removeProperty("--gs-legend-room");
    var open = function () { return !L.DomUtil.hasClass(legend, "gs-folded"); };
    var above = function () {
      var r = list.getBoundingClientRect();
      return r.height ? r.bottom : input.getBoundingClientRect().bottom;
    };
    if (open()) {
      var l = legend.getBoundingClientRect(), chrome = l.height - body.getBoundingClientRect().height;
      var room = l.bottom - above() - GAP - chrome;
      if (room < MIN_ROOM && list.childNodes.length) {
        if (legendFirst) list.innerHTML = ""; else legend.gsFold(true);
        room = l.bottom - above() - GAP - chrome;
      }
      if (open()) box.style.setProperty("--gs-legend-room", Math.max(0, room) + "px");
    }
    var top = list.getBoundingClientRect().top;
    box.style.setProperty("--gs-results-room", Math.max(0, legend.getBoundingClientRect().top - GAP - top) + "px");
  };

  GS.search = function (map) {
    var ctl = L.control({ position: "topleft" });
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "gs-search leaflet-bar");
      var input = L.DomUtil.create("input", "gs-search-input", div);
      input.type = "search";
      input.placeholder = GS.label("search_placeholder");
      input.setAttribute("aria-label", GS.label("search_placeholder"));
      var list = L.DomUtil.create("ul", "gs-search-results", div);
      var timer = null, results = [];
      function show(items) {
        results = items;
        list.innerHTML = "";
        items.forEach(function (r) {
          var li = L.DomUtil.create("li", "gs-search-result", list);
          li.innerHTML = "<b>" + GS.escape(r.label) + "</b> <small>" + GS.escape(GS.label(r.layer)) +
            (r.detail ? " · " + GS.escape(r.detail) : "") + "</small>";
          li.dataset.id = r.id;
          /* Leaflet decides whether a click was on the map by walking up from its target,
             so the list is emptied after the click, not while it is still bubbling. */
          L.DomEvent.on(li, "click", function () { setTimeout(function () { go(r); }, 0); });
        });
        if (!items.length && input.value.trim()) list.innerHTML = '<li class="gs-search-none">' + GS.escape(GS.label("no_results")) + "</li>";
        GS.keepClear(map, false);
      }
      function go(r) { list.innerHTML = ""; GS.keepClear(map, false); GS.goTo(map, r); }
      function run() {
        var q = input.value.trim();
        if (!q) { show([]); return; }
        fetch(GS.config.searchUrl + "?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (j) { if (input.value.trim() === q) show(j.results || []); });
      }
      L.DomEvent.on(input, "input", function () { clearTimeout(timer); timer = setTimeout(run, 200); });
      L.DomEvent.on(input, "keydown", function (e) {
        if (e.key === "Enter" && results.length) go(results[0]);
      });
      map.getContainer().addEventListener("gs-fold", function (e) {
        if (L.DomUtil.hasClass(e.target, "gs-legend")) GS.keepClear(map, true);
      });
      map.on("resize", function () { GS.keepClear(map, false); });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    ctl.addTo(map);
  };

  GS.minimap = function (map, overlay, style) {
    if (!L.Control.MiniMap || GS.small(map)) return;
    var layer = L.geoJSON(overlay.sourceData, { coordsToLatLng: GS.coordsToLatLng, style: function (f) { return GS.styles[style](f.properties || {}); } });
    new L.Control.MiniMap(layer, { toggleDisplay: true, position: "bottomright", zoomLevelOffset: -4,
      strings: { hideText: GS.label("minimap_hide"), showText: GS.label("minimap_show") } }).addTo(map);
  };

  /* Tiles cannot be re-projected point by point: on a GCJ-02 basemap the tile pane is moved
     by the offset at the view's centre (metres off at a city's edge, exact where one looks). */
  function shiftTiles(map) {
    var c = map.getCenter(), g = GS.gcj02(c.lng, c.lat);
    var d = map.latLngToLayerPoint(L.latLng(g[1], g[0])).subtract(map.latLngToLayerPoint(c));
    GS.tileShift = d;
    map.getPane("gsTiles").style.transform = "translate(" + d.x + "px," + d.y + "px)";
  }

  /* Labels: site names and codes, community names, building numbers, placed where they fit.
     Drawn from what the map already holds (embedded layers, loaded tiles), so they cost no
     request; placed greedily by priority, and a label that would touch a placed one, or is
     wider than a building it names, is left out, so none collide. */
  GS.labelText = {
    sites: function (p, z) { return z >= 16 ? p.name + " " + p.code : z >= 12 ? p.code : null; },
    communities: function (p, z) { return z >= 14 ? p.name : null; },
    buildings: function (p, z) {
      var m = z >= 17 && String(p.address || "").match(/(\d+\s*(幢|栋|号楼|号|座))\s*$/);
      return m ? m[1] : null;
    }
  };
  var LABEL_PRIORITY = { sites: 0, communities: 1, buildings: 2 }, FITS_INSIDE = { buildings: true };
  var measure = null;
  function textWidth(t, bold) {
    measure = measure || document.createElement("canvas").getContext("2d");
    measure.font = (bold ? "bold " : "") + "12px sans-serif";
    return measure.measureText(t).width;
  }

  /* Candidates as [style, props, world pixel box at zoom z]: embedded features and tiles'. */
  function labelCandidates(map, z) {
    var out = [];
    GS.embedded.forEach(function (e) {
      if (!GS.labelText[e.spec.style] || !map.hasLayer(e.layer)) return;
      e.layer.eachLayer(function (l) {
        var b = l.getBounds ? l.getBounds() : L.latLngBounds(l.getLatLng(), l.getLatLng());
        out.push([e.spec.style, l.feature.properties || {}, L.bounds(map.project(b.getNorthWest(), z), map.project(b.getSouthEast(), z))]);
      });
    });
    GS.tileLayers.forEach(function (entry) {
      var style = entry.spec.style, merged = {};
      if (!GS.labelText[style] || !map.hasLayer(entry.layer) || entry.layer._tileZoom !== z) return;
      for (var key in entry.renderers) {
        var r = entry.renderers[key], origin = r.getCoord().scaleBy(entry.layer.getTileSize()).add(GS.tileShift);
        for (var id in r._layers) {
          var f = r._layers[id], p = f.properties || {}, name = p.fid || p.id || p.name || p.address;
          if (!f._pxBounds || !name) continue;
          var box = L.bounds(f._pxBounds.min.add(origin), f._pxBounds.max.add(origin));
          /* one feature cut by tile edges: the union of its pieces, inside the tile buffers */
          merged[name] = merged[name] ? [p, merged[name][1].extend(box.min).extend(box.max)] : [p, box];
        }
      }
      for (var n in merged) out.push([style, merged[n][0], merged[n][1]]);
    });
    return out.sort(function (a, b) { return LABEL_PRIORITY[a[0]] - LABEL_PRIORITY[b[0]]; });
  }

  GS.placeLabels = function (map) {
    var pane = map.getPane("gsLabels"), z = Math.round(map.getZoom()), placed = [];
    pane.innerHTML = "";
    var origin = map.getPixelOrigin(), view = L.bounds(L.point(0, 0), map.getSize());
    /* nothing under a control or the title, where it could not be read */
    var box = map.getContainer().getBoundingClientRect();
    Array.prototype.forEach.call(document.querySelectorAll(".leaflet-control, .gs-title"), function (c) {
      var r = c.getBoundingClientRect();
      if (r.height) placed.push(L.bounds(L.point(r.left - box.left, r.top - box.top), L.point(r.right - box.left, r.bottom - box.top)));
    });
    labelCandidates(map, z).forEach(function (c) {
      var text = GS.labelText[c[0]](c[1], z);
      if (!text || placed.length >= 400) return;
      var w = textWidth(text, c[0] === "sites") + 6, h = 16, box = c[2];
      if (FITS_INSIDE[c[0]] && w > box.getSize().x) return;
      /* a large area (a community) is labelled in the middle of the part in view */
      var min = map.layerPointToContainerPoint(box.min.subtract(origin)), max = map.layerPointToContainerPoint(box.max.subtract(origin));
      if (!FITS_INSIDE[c[0]]) { min = L.point(Math.max(min.x, 0), Math.max(min.y, 0)); max = L.point(Math.min(max.x, view.max.x), Math.min(max.y, view.max.y)); }
      if (max.x < min.x || max.y < min.y) return;
      var centre = L.bounds(min, max).getCenter();
      var rect = L.bounds(centre.subtract(L.point(w / 2, h / 2)), centre.add(L.point(w / 2, h / 2)));
      if (!view.contains(rect)) return;
      for (var i = 0; i < placed.length; i++) { if (placed[i].intersects(rect)) return; }
      placed.push(L.bounds(rect.min.subtract(L.point(2, 2)), rect.max.add(L.point(2, 2))));
      var div = L.DomUtil.create("div", "gs-label gs-label-" + c[0], pane);
      div.textContent = text;
      L.DomUtil.setPosition(div, map.containerPointToLayerPoint(rect.min));
    });
  };

  function labels(map) {
    var timer = null;
    var later = function () { clearTimeout(timer); timer = setTimeout(function () { GS.placeLabels(map); }, 60); };
    map.on("moveend zoomend overlayadd overlayremove", later);
    GS.tileLayers.forEach(function (entry) { entry.layer.on("load", later); });
    later();
  }
  GS.labels = labels;

  /* Printing: every fold opens, the map takes the page's size, the view is fitted again so
     the subject is in the page's centre, and the date is today's. */
  function printing(map, on) {
    var folds = map.getContainer().querySelectorAll(".gs-foldable");
    Array.prototype.forEach.call(folds, function (div) {
      if (!div.gsFold) return;
      if (on) { div.setAttribute("data-gs-was-folded", L.DomUtil.hasClass(div, "gs-folded")); div.gsFold(false); }
      else { div.gsFold(div.getAttribute("data-gs-was-folded") === "true"); div.removeAttribute("data-gs-was-folded"); }
    });
    var date = document.querySelector(".gs-date");
    if (date) date.textContent = new Date().toLocaleDateString(GS.config.lang === "zh" ? "zh-CN" : "en-GB", { year: "numeric", month: "long", day: "numeric" });
    map.invalidateSize({ pan: false });
    if (GS.bounds) map.fitBounds(GS.bounds, { animate: false, padding: [24, 24] });
  }

  GS.configure = function (map, config) {
    GS.map = map;
    GS.config = config;
    GS.shift = !!config.gcj02;
    GS.bounds = config.bounds ? L.latLngBounds(GS.latLng(config.bounds[0], config.bounds[1]), GS.latLng(config.bounds[2], config.bounds[3])) : null;
    GS.tileShift = L.point(0, 0);
    map.createPane("gsTiles").style.zIndex = 350;
    map.createPane("gsAreas").style.zIndex = 380;
    map.createPane("gsFeatures").style.zIndex = 420;
    map.createPane("gsLabels").style.zIndex = 450;
    map.on("click", function (e) { identify(map, e); });
    if (GS.shift) { map.on("zoomend moveend viewreset", function () { shiftTiles(map); }); }
    L.DomUtil.addClass(map.getContainer(), GS.small(map) ? "gs-small" : "gs-large");
    var print = window.matchMedia("print");
    var onPrint = function (e) { printing(map, e.matches); };
    if (print.addEventListener) print.addEventListener("change", onPrint);
    window.addEventListener("beforeprint", function () { printing(map, true); });
    window.addEventListener("afterprint", function () { printing(map, false); });
  };
})();
