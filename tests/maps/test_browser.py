"""The maps in a real browser: they load offline, show their layers, popups and search."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from tests.maps.conftest import screenshot

SITE = "HF-01"


def _open(page, path: str) -> None:
    page.goto(page.base + path, wait_until="networkidle")
    page.wait_for_function("window.GeoService && window.GeoService.map !== null")
    page.wait_for_timeout(500)


def _clean(page) -> None:
    assert page.visit.outside == [], page.visit.outside
    assert page.visit.errors == [], page.visit.errors


def _layer_control(page) -> str:
    return page.inner_text(".leaflet-control-layers")


def _site_name(db: Engine) -> str:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT name FROM sites WHERE code = :c"), {"c": SITE}
        ).scalar_one()


def _click_site(page, code: str) -> None:
    x, y = page.evaluate(
        """code => { const m = GeoService.map, l = GeoService.sites[code];
                     m.setView(l.getBounds().getCenter(), 17, {animate: false});
                     const p = m.latLngToContainerPoint(l.getBounds().getCenter());
                     const r = m.getContainer().getBoundingClientRect();
                     return [r.left + p.x, r.top + p.y]; }""",
        code,
    )
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_selector(".leaflet-popup-content")


def test_overview_loads_offline_with_its_layers_and_site_popups(page, demo_db: Engine) -> None:
    _open(page, "/maps/overview")
    control = _layer_control(page)
    for title in ("规划地块", "建设工地", "影响范围", "居住社区", "楼栋", "住户"):
        assert title in control
    assert "用地性质" in page.inner_text(".gs-legend")
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".leaflet-control-minimap").count() == 1
    # The minimap draws every site from the sites overlay's data; the page holds it once.
    drawn = page.locator(".leaflet-control-minimap path.leaflet-interactive").count()
    assert page.evaluate("Object.keys(GeoService.sites).length") == 10
    assert drawn >= 10  # and the minimap's own view rectangles
    html = page.content()
    assert len(re.findall(r'"id"\s*:\s*"HF-01"', html)) == 1
    _click_site(page, SITE)
    assert _site_name(demo_db) in page.inner_text(".leaflet-popup-content")
    screenshot(page, "maps-overview")
    _clean(page)


def test_overview_search_moves_the_map_to_a_parcel(page) -> None:
    _open(page, "/maps/overview?lang=en")
    page.fill(".gs-search-input", "XC1003-R21-02")
    page.wait_for_selector(".gs-search-result")
    page.click(".gs-search-result >> nth=0")
    page.wait_for_selector(".leaflet-popup-content")
    assert "XC1003-R21-02" in page.inner_text(".leaflet-popup-content")
    centre = page.evaluate(
        "(() => { const c = GeoService.map.getCenter(); return [c.lng, c.lat]; })()"
    )
    hit = page.evaluate("fetch('/api/search?q=XC1003-R21-02').then(r => r.json())")["results"][0]
    lon0, lat0, lon1, lat1 = hit["bbox"]
    assert lon0 <= centre[0] <= lon1 and lat0 <= centre[1] <= lat1
    assert "Planning parcels" in _layer_control(page)
    _clean(page)


def test_site_map_shows_rings_households_and_the_export_link(page, demo_db: Engine) -> None:
    _open(page, f"/maps/sites/{SITE}")
    control = _layer_control(page)
    for title in ("规划地块", "影响范围", "建设工地", "受影响住户", "居住社区"):
        assert title in control
    assert page.evaluate("document.querySelectorAll('path.leaflet-interactive').length") > 100
    _click_site(page, SITE)
    popup = page.inner_text(".leaflet-popup-content")
    assert _site_name(demo_db) in popup
    link = page.get_attribute(".leaflet-popup-content a", "href")
    assert link == f"/api/sites/{SITE}/households?format=xlsx&lang=zh"
    screenshot(page, "maps-site")
    _clean(page)


def test_community_map_in_english(page, demo_db: Engine) -> None:
    with demo_db.connect() as conn:
        community = conn.execute(
            text(
                "SELECT community_id FROM household_impacts "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
    _open(page, f"/maps/communities/{community}?lang=en")
    control = _layer_control(page)
    for title in ("Residential communities", "Buildings", "Construction sites"):
        assert title in control
    screenshot(page, "maps-community")
    _clean(page)


def test_the_gcj02_shift_in_the_page_matches_the_python_one(page) -> None:
    from maps.gcj02 import wgs84_to_gcj02

    _open(page, f"/maps/sites/{SITE}?lang=en")
    js = page.evaluate("GeoService.gcj02(120.159, 30.267)")
    py = wgs84_to_gcj02(120.159, 30.267)
    assert abs(js[0] - py[0]) < 1e-9 and abs(js[1] - py[1]) < 1e-9


def test_maps_need_a_signed_in_user(server: str) -> None:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(server + "/maps/overview", timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    else:  # a browser is sent to the sign-in page instead
        raise AssertionError("an anonymous visitor got the map")


def test_geo_service_map_writes_one_file_that_opens_offline(
    page, demo_db: Engine, tmp_path, monkeypatch
) -> None:
    from click.testing import CliRunner

    from geo_service.cli import main

    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", demo_db.url.render_as_string(False))
    out = tmp_path / "site.html"
    result = CliRunner().invoke(main, ["map", SITE, "-o", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'src="/' not in html and 'href="/static' not in html
    page.goto(out.as_uri(), wait_until="load")
    page.wait_for_function("window.GeoService && window.GeoService.map !== null")
    assert "Construction sites" in _layer_control(page)
    assert page.visit.outside == [] and page.visit.errors == []


def test_site_map_prints_on_one_a4_page_with_map_legend_and_title(page, tmp_path) -> None:
    """Printed, the map fills the page, the title and legend stay, the controls go."""
    _open(page, f"/maps/sites/{SITE}")
    page.emulate_media(media="print")
    visible = page.evaluate(
        """() => { const shown = s => { const e = document.querySelector(s);
                                        return !!e && getComputedStyle(e).display !== 'none'; };
                   const map = document.querySelector('.folium-map').getBoundingClientRect();
                   return {title: shown('.gs-title'), legend: shown('.gs-legend'),
                           layers: shown('.leaflet-control-layers'),
                           zoom: shown('.leaflet-control-zoom'),
                           fullWidth: map.width >= window.innerWidth * 0.95}; }"""
    )
    assert visible == {
        "title": True,
        "legend": True,
        "layers": False,
        "zoom": False,
        "fullWidth": True,
    }
    pdf = tmp_path / "site.pdf"
    page.pdf(path=str(pdf), format="A4", landscape=True, print_background=True)
    body = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", body))
    assert body.startswith(b"%PDF") and pages == 1, pages
    page.emulate_media(media="screen")
    _clean(page)


def test_ogc_html_pages_show_their_features_on_an_offline_map(page) -> None:
    page.goto(page.base + "/ogc/collections/parcels/items?f=html&limit=12", wait_until="load")
    page.wait_for_function("window.featureLayer !== undefined")
    drawn = page.locator("#map path.leaflet-interactive").count()
    rows = page.locator("table tr").count() - 1
    listing = page.content()
    screenshot(page, "ogc-items-html")

    page.goto(page.base + "/ogc/collections/sites/items/HF-01?f=html", wait_until="load")
    page.wait_for_function("window.featureLayer !== undefined")
    one = page.evaluate("window.featureLayer.getLayers().map(l => l.feature.id)")
    single = page.content()
    gk = page.goto(page.base + "/ogc/collections/parcels/items?f=html&limit=3&crs=EPSG:4549")

    assert drawn == rows == 12
    # A compound land use, as a person reads it: each class by its GB 50137 name.
    assert "<td>R21 二类居住用地（住宅用地）、B1 商业用地</td>" in listing
    assert one == ["HF-01"]
    # A property as a person reads it, in the page's language; its name for filters beside.
    assert '<th title="contractor"><span class="primary">施工单位</span>' in single
    assert gk is not None and 'id="map"' not in gk.text() and "id='map'" not in gk.text()
    _clean(page)


def test_markup_in_a_feature_id_stays_text_on_the_ogc_page(page, demo_db) -> None:
    """Stored XSS of issue 11: a site code with markup ran script in the tooltip."""
    code = '<img src=x onerror="window.pwned=1">'
    with demo_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sites (code, name, kind, status, geom) SELECT :code, 'x', kind, "
                "status, geom FROM sites WHERE code = 'HF-01'"
            ),
            {"code": code},
        )
    try:
        page.goto(page.base + "/ogc/collections/sites/items?f=html", wait_until="load")
        page.wait_for_function("window.featureLayer !== undefined")
        shown = page.evaluate(
            "window.featureLayer.getLayers().map(l => { l.openTooltip();"
            " return l.getTooltip().getElement().textContent; })"
        )
        page.wait_for_timeout(300)
        assert code in shown
        assert page.evaluate("window.pwned") is None
        assert page.locator(".leaflet-tooltip img").count() == 0
    finally:
        with demo_db.begin() as conn:
            conn.execute(text("DELETE FROM sites WHERE code = :code"), {"code": code})


_INJECT = """() => {
    const box = document.createElement('div');
    box.innerHTML = '<img src="data:," onerror="window.pwned = 1">';
    document.body.appendChild(box);
    const s = document.createElement('script');
    s.textContent = 'window.pwned2 = 1';
    document.body.appendChild(s);
}"""


def test_the_content_security_policy_stops_script_that_markup_injects(page) -> None:
    """Had an escape been missed, the injected handler and script would still not run: the
    pages allow no inline script but the ones they were rendered with (by hash)."""
    for path, ready in (
        ("/ogc/collections/sites/items?f=html", "window.featureLayer !== undefined"),
        ("/maps/overview", "window.GeoService && window.GeoService.map !== null"),
        ("/docs", "document.querySelector('.swagger-ui .info') !== null"),
    ):
        page.visit.errors.clear()
        page.goto(page.base + path, wait_until="load")
        page.wait_for_function(ready)  # the page's own scripts ran
        page.evaluate(_INJECT)
        page.wait_for_timeout(300)
        assert page.evaluate("[window.pwned, window.pwned2]") == [None, None], path
        refused = [e for e in page.visit.errors if "Content Security Policy" in e]
        assert len(refused) == 2, (path, page.visit.errors)
    assert page.visit.outside == []


# -- clicking what the overview draws from its vector tiles ----------------------------------
# One feature of each tiled layer, clear of every site (a site's own popup would answer), at
# a point where the feature is drawn: inside a polygon, or on a contour's line.
_AWAY_FROM_SITES = "NOT ST_DWithin(pt, (SELECT ST_Union(geom) FROM sites), 0.0003)"
_FEATURES = {
    "parcels": "SELECT code, ST_PointOnSurface(geom) AS pt FROM parcels",
    "communities": "SELECT name, ST_PointOnSurface(geom) AS pt FROM communities",
    "buildings": "SELECT address, ST_PointOnSurface(geom) AS pt FROM buildings"
    " ORDER BY ST_Area(geom) DESC",
    "bands": "SELECT site_code, ST_PointOnSurface(geom) AS pt FROM impact_zones"
    " WHERE kind = 'band' ORDER BY band",
    "contours": "SELECT site_code, ST_LineInterpolatePoint(ST_ExteriorRing(ST_GeometryN(geom, 1)),"
    " 0.3) AS pt FROM impact_zones WHERE kind = 'noise_day'",
}
# (feature, zooms it is clicked at, the layer title its popup section carries)
_CLICKS = (
    ("parcels", (13, 16), "规划地块"),
    ("communities", (13, 16), "居住社区"),
    ("buildings", (14, 17), "楼栋"),
    ("bands", (14, 16), "影响范围"),
    ("contours", (15, 17), "影响范围"),
)


def _feature(db: Engine, name: str) -> tuple[str, float, float]:
    sql = f"""SELECT f.*, ST_X(pt), ST_Y(pt) FROM ({_FEATURES[name]}) f
              WHERE {_AWAY_FROM_SITES} LIMIT 1"""
    with db.connect() as conn:
        label, _, lon, lat = conn.execute(text(sql)).one()
    return label, lon, lat


def _tiles_drawn(page) -> None:
    page.wait_for_function(
        "GeoService.tileLayers.every(t => !GeoService.map.hasLayer(t.layer)"
        " || !t.layer.isLoading())"
    )
    page.wait_for_timeout(200)


def _click_at(page, lon: float, lat: float, zoom: int) -> None:
    """Centre the map on (lon, lat) at ``zoom``, wait for its tiles, and click there."""
    page.evaluate(
        "([lon, lat, z]) => { GeoService.map.closePopup();"
        " GeoService.map.setView(GeoService.latLng(lon, lat), z, {animate: false}); }",
        [lon, lat, zoom],
    )
    _tiles_drawn(page)
    x, y = page.evaluate(
        """([lon, lat]) => { const m = GeoService.map;
                     const p = m.latLngToContainerPoint(GeoService.latLng(lon, lat));
                     const r = m.getContainer().getBoundingClientRect();
                     return [r.left + p.x, r.top + p.y]; }""",
        [lon, lat],
    )
    page.mouse.click(x, y)


def test_a_click_on_each_tiled_layer_opens_its_popup_at_every_zoom_it_is_drawn(
    page, demo_db: Engine
) -> None:
    """Issue 13.1: every click on a tile feature threw ``L.DomEvent.fakeStop is not a
    function``; and the topmost tile canvas hid every layer beneath it."""
    _open(page, "/maps/overview")
    for name, zooms, title in _CLICKS:
        label, lon, lat = _feature(demo_db, name)
        for zoom in zooms:
            _click_at(page, lon, lat, zoom)
            page.wait_for_selector(".leaflet-popup-content", timeout=5000)
            shown = page.inner_text(".leaflet-popup-content")
            assert title in shown and label in shown, (name, zoom, shown)
        page.wait_for_timeout(300)  # the popup fades in
        screenshot(page, f"maps-overview-click-{name}")
    _clean(page)


def test_households_open_their_popup_once_their_layer_is_on(page, demo_db: Engine) -> None:
    with demo_db.connect() as conn:
        lon, lat, building = conn.execute(
            text(
                "SELECT ST_X(h.geom), ST_Y(h.geom), b.address FROM households h"
                " JOIN buildings b ON b.id = h.building_id WHERE NOT ST_DWithin("
                "h.geom, (SELECT ST_Union(geom) FROM sites), 0.0003) ORDER BY h.id LIMIT 1"
            )
        ).one()
    _open(page, "/maps/overview")
    page.evaluate(
        "GeoService.map.addLayer(GeoService.tileLayers.find(t => t.spec.style === 'households')"
        ".layer)"
    )
    _click_at(page, lon, lat, 17)
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    shown = page.inner_text(".leaflet-popup-content")
    assert "住户" in shown and str(building) in shown, shown
    _clean(page)


def _busiest_community(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT community_id FROM household_impacts "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()


def test_a_click_on_a_building_inside_a_band_opens_the_building(page, demo_db: Engine) -> None:
    """Issue 13.2: the band polygons lay over the buildings and answered their clicks."""
    community = _busiest_community(demo_db)
    with demo_db.connect() as conn:
        address, lon, lat = conn.execute(
            text(
                "SELECT b.address, ST_X(ST_PointOnSurface(b.geom)), ST_Y(ST_PointOnSurface(b.geom))"
                " FROM buildings b WHERE b.community_id = :c AND EXISTS (SELECT 1 FROM"
                " household_impacts hi WHERE hi.building_id = b.id) ORDER BY b.address LIMIT 1"
            ),
            {"c": community},
        ).one()
    _open(page, f"/maps/communities/{community}")
    _click_at(page, lon, lat, 18)
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    shown = page.inner_text(".leaflet-popup-content")
    assert address in shown and "距离带" not in shown, shown
    page.wait_for_timeout(300)
    screenshot(page, "maps-community-click-building")
    _clean(page)


# Each Chinese character of the title drawn alone on a canvas in the title's font: with no
# CJK font every one is the same missing-glyph box (and the same as an unassigned code point).
_TOFU = r"""() => {
    const el = document.querySelector('.gs-title'), font = getComputedStyle(el).font;
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 64;
    const g = canvas.getContext('2d');
    const draw = ch => { g.clearRect(0, 0, 64, 64); g.font = font; g.fillText(ch, 4, 40);
                         return g.getImageData(0, 0, 64, 64).data.join(','); };
    const missing = draw('\u{10FFFD}');
    const chars = [...new Set(el.textContent.match(/[\u4e00-\u9fff]/g))];
    const drawn = chars.map(draw);
    return {chars: chars.length, distinct: new Set(drawn).size,
            boxes: drawn.filter(d => d === missing).length};
}"""


def test_chinese_titles_render_with_a_cjk_font_not_boxes(page) -> None:
    """Issue 13.15: without a CJK font (``./dev`` installs fonts-noto-cjk) the screenshots
    showed boxes for every Chinese character."""
    for path in ("/maps/overview", f"/maps/sites/{SITE}"):
        _open(page, path)
        seen = page.evaluate(_TOFU)
        assert seen["chars"] >= 4 and seen["boxes"] == 0, (path, seen)
        assert seen["distinct"] == seen["chars"], (path, seen)
    screenshot(page, "maps-site-title-font")
    _clean(page)


def _inside_viewport(page, selector: str) -> bool:
    return page.evaluate(
        """s => { const r = document.querySelector(s).getBoundingClientRect();
                  return r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0
                         && r.right <= innerWidth && r.bottom <= innerHeight; }""",
        selector,
    )


def test_legends_name_contours_band_distances_dashes_and_building_colours(
    page, demo_db: Engine
) -> None:
    """Issue 13.7: what the legend says matches what each map draws, and it is never cut."""
    _open(page, "/maps/overview")
    legend = page.inner_text(".gs-legend")
    assert "昼间噪声达标线" in legend and "夜间噪声达标线" in legend  # as layers/ declares them
    assert "0–50 m" in legend and "50–200 m" in legend and "圈层 1" not in legend
    dashes = page.evaluate(
        "[...document.querySelectorAll('.gs-legend svg line')]"
        ".map(l => l.getAttribute('stroke-dasharray')).filter(d => d)"
    )
    for dash in page.evaluate("Object.values(GeoService.config.siteKindDash)"):
        assert dash in dashes
    scale = page.inner_text(".leaflet-control-scale")
    assert re.fullmatch(r"\d+ k?m", scale.strip()), scale  # metric only: no feet, no miles
    page.mouse.move(720, 450)
    assert "经度" in page.inner_text(".leaflet-control-mouseposition")
    assert _inside_viewport(page, ".gs-legend")
    screenshot(page, "maps-overview-legend")

    _open(page, f"/maps/sites/{SITE}")
    first = page.inner_text(".gs-legend-body h4 >> nth=0")
    assert first == "住户超标程度"
    assert _inside_viewport(page, ".gs-legend")
    with demo_db.connect() as conn:
        outer = conn.execute(
            text(
                "SELECT bands_m[1] FROM site_impact si JOIN sites s ON s.id = si.site_id"
                " WHERE s.code = :c"
            ),
            {"c": SITE},
        ).scalar_one()
    assert f"0–{outer:g} m" in page.inner_text(".gs-legend")

    _open(page, f"/maps/communities/{_busiest_community(demo_db)}")
    legend = page.inner_text(".gs-legend")
    assert "有受影响住户" in legend and "无受影响住户" in legend
    screenshot(page, "maps-community-legend")
    _clean(page)


def _rect(page, selector: str) -> dict | None:
    return page.evaluate(
        """s => { const e = document.querySelector(s); if (!e) return null;
                  const r = e.getBoundingClientRect();
                  return r.width && r.height
                         ? {l: r.left, t: r.top, r: r.right, b: r.bottom} : null; }""",
        selector,
    )


def _overlap(a: dict, b: dict) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


_SMALL_TARGETS = """() => [...document.querySelectorAll(
        '.leaflet-control a, .leaflet-control button, .leaflet-control input[type=search],'
        + ' .leaflet-control-layers label')]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map(e => { const r = e.getBoundingClientRect();
                return [e.className || e.tagName, Math.round(r.width), Math.round(r.height)]; })
    .filter(([, w, h]) => h < 44 || w < 44)"""


def test_on_a_phone_controls_fold_targets_are_44px_and_popups_fit(phone) -> None:
    """Issue 13.3: on 390x844 the controls covered the map and could not be closed."""
    page = phone
    _open(page, f"/maps/sites/{SITE}")
    assert page.locator(".leaflet-control-minimap").count() == 0
    assert page.locator(".gs-legend.gs-folded").count() == 1
    assert page.locator(".leaflet-control-layers.gs-folded").count() == 1
    title, search = _rect(page, ".gs-title"), _rect(page, ".gs-search")
    layers = _rect(page, ".leaflet-control-layers")
    assert title and search and layers
    assert not _overlap(title, search) and not _overlap(title, layers)
    assert not _overlap(search, layers)
    assert page.evaluate(_SMALL_TARGETS) == []
    screenshot(page, "maps-phone-site")

    page.tap(".leaflet-control-layers .gs-fold")
    assert page.locator(".leaflet-control-layers.gs-folded").count() == 0
    assert _inside_viewport(page, ".leaflet-control-layers")
    assert page.evaluate(_SMALL_TARGETS) == []
    screenshot(page, "maps-phone-site-layers")
    page.tap(".leaflet-control-layers .gs-fold")
    page.tap(".gs-legend .gs-fold")
    assert _inside_viewport(page, ".gs-legend")
    screenshot(page, "maps-phone-site-legend")
    page.tap(".gs-legend .gs-fold")

    x, y = page.evaluate(
        """code => { const m = GeoService.map, l = GeoService.sites[code];
                     m.setView(l.getBounds().getCenter(), 17, {animate: false});
                     const p = m.latLngToContainerPoint(l.getBounds().getCenter());
                     return [p.x, p.y]; }""",
        SITE,
    )
    page.wait_for_timeout(300)
    page.touchscreen.tap(x, y)
    page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(400)
    assert _inside_viewport(page, ".leaflet-popup-content-wrapper")
    close = _rect(page, ".leaflet-popup-close-button")
    assert close and close["r"] - close["l"] >= 44 and close["b"] - close["t"] >= 44
    screenshot(page, "maps-phone-site-popup")
    # Between the controls, not under them.
    popup = _rect(page, ".leaflet-popup-content-wrapper")
    controls = page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-control')]
                 .map(c => c.getBoundingClientRect()).filter(r => r.height)
                 .map(r => ({l: r.left, t: r.top, r: r.right, b: r.bottom}))"""
    )
    assert popup and not any(_overlap(popup, c) for c in controls), (popup, controls)
    _clean(page)


def test_a_printed_site_map_has_title_date_north_scale_and_the_planners_summary(
    page, demo_db: Engine, tmp_path
) -> None:
    """Issue 13.13: on A4 (277 x 190 mm inside the margins, 1047 x 718 px) the site is in the
    centre, with the marks a printed map needs and the summary a planner gets from the API:
    vulnerable households perturbed, never the exact counts."""
    from geo_service import impact

    with demo_db.connect() as conn:
        site = impact.resolve_site(conn, SITE)
        expected = impact.site_impact(conn, site, exact=False)
    page.set_viewport_size({"width": 1047, "height": 718})
    _open(page, f"/maps/sites/{SITE}")
    page.emulate_media(media="print")
    page.wait_for_timeout(500)
    for mark in (
        ".gs-title",
        ".gs-print-date",
        ".gs-north",
        ".leaflet-control-scale",
        ".gs-summary",
        ".gs-legend",
    ):
        assert _inside_viewport(page, mark), mark
    assert "2" in page.inner_text(".gs-date")  # a year
    offset = page.evaluate(
        """code => { const m = GeoService.map, c = GeoService.bounds.getCenter();
                     const p = m.latLngToContainerPoint(c), s = m.getSize();
                     return [p.x - s.x / 2, p.y - s.y / 2]; }""",
        SITE,
    )
    assert abs(offset[0]) < 30 and abs(offset[1]) < 30, offset
    rows = page.evaluate(
        "[...document.querySelectorAll('.gs-summary tr')].slice(1)"
        ".map(r => [...r.children].map(c => c.textContent))"
    )
    shown = [r[3] for r in rows]  # the vulnerable households column
    wanted = [str(b["vulnerable_households"]) for b in expected["by_band"]]
    assert shown == [*wanted, str(expected["totals"]["vulnerable_households"])]
    assert rows[-1][1] == str(expected["totals"]["households"])
    screenshot(page, "maps-site-print")
    pdf = tmp_path / "site.pdf"
    page.pdf(path=str(pdf), format="A4", landscape=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes())) == 1
    page.emulate_media(media="screen")
    _clean(page)


_LABEL_BOXES = """() => [...document.querySelectorAll('.gs-label')].map(e => {
    const r = e.getBoundingClientRect();
    return {text: e.textContent, l: r.left, t: r.top, r: r.right, b: r.bottom}; })"""


def _no_collisions(boxes: list[dict]) -> bool:
    return not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_labels_name_sites_communities_and_buildings_without_collisions(
    page, demo_db: Engine
) -> None:
    """Issue 13.6: site names and codes, community names, building numbers where they fit."""
    _open(page, "/maps/overview")
    _tiles_drawn(page)
    page.wait_for_timeout(300)
    boxes = page.evaluate(_LABEL_BOXES)
    with demo_db.connect() as conn:
        codes = set(conn.execute(text("SELECT code FROM sites")).scalars())
    assert any(b["text"] in codes for b in boxes), boxes  # the default view: codes
    assert _no_collisions(boxes), boxes
    screenshot(page, "maps-overview-labels")

    with demo_db.connect() as conn:
        name, address, lon, lat = conn.execute(
            text(
                "SELECT c.name, b.address, ST_X(ST_PointOnSurface(b.geom)),"
                " ST_Y(ST_PointOnSurface(b.geom)) FROM buildings b"
                " JOIN communities c ON c.id = b.community_id"
                " ORDER BY ST_Area(b.geom) DESC LIMIT 1"
            )
        ).one()
    number = re.search(r"(\d+\s*幢)$", address).group(1)
    page.evaluate(
        "([lon, lat]) => GeoService.map.setView(GeoService.latLng(lon, lat), 18, {animate: false})",
        [lon, lat],
    )
    _tiles_drawn(page)
    page.wait_for_timeout(300)
    boxes = page.evaluate(_LABEL_BOXES)
    assert number in [b["text"] for b in boxes], boxes
    assert _no_collisions(boxes), boxes
    screenshot(page, "maps-overview-labels-buildings")

    page.evaluate("GeoService.map.setZoom(15, {animate: false})")
    _tiles_drawn(page)
    page.wait_for_timeout(300)
    boxes = page.evaluate(_LABEL_BOXES)
    assert name in [b["text"] for b in boxes], boxes
    assert _no_collisions(boxes), boxes
    screenshot(page, "maps-overview-labels-communities")
    _clean(page)
