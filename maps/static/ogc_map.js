// The map on the OGC API's pages: the features of the page's JSON data block (#features),
// polygons and lines outlined, points as dots, each with its id in a tooltip. A file, not an
// inline script, so the pages' Content-Security-Policy allows no inline script at all.
(function () {
  var data = JSON.parse(document.getElementById('features').textContent);
  var map = L.map('map', {attributionControl: false});
  var layer = L.geoJSON(data, {
    pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 4}); },
    // The id as text, never as HTML: a code with markup in it stays a code.
    onEachFeature: function (f, l) { l.bindTooltip(document.createTextNode(String(f.id))); }
  }).addTo(map);
  if (data.features.length) { map.fitBounds(layer.getBounds(), {maxZoom: 18}); }
  else { map.setView([30.27, 120.16], 12); }
  window.featureLayer = layer;
})();
