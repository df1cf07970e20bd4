"""The maps' web assets are vendored, listed with their licences, and the only ones used."""

from __future__ import annotations

import json
import re

import folium
import folium.plugins as plugins

from maps import assets, builders

MANIFEST = assets.STATIC_DIR / "vendor" / "MANIFEST.json"


def test_every_vendored_file_is_listed_with_version_and_licence() -> None:
    packages = json.loads(MANIFEST.read_text())["packages"]
    assert {p["name"] for p in packages} >= {
        "leaflet",
        "jquery",
        "bootstrap",
        "@fortawesome/fontawesome-free",
        "leaflet.awesome-markers",
        "leaflet.vectorgrid",
        "leaflet-minimap",
    }
    for p in packages:
        assert (
            p["source"] == "npm" and re.fullmatch(r"\d+\.\d+\.\d+", p["version"]) and p["licence"]
        )
        folder = MANIFEST.parent / p["folder"]
        for name in [*p["files"], *([p["licence_file"]] if p["licence_file"] else [])]:
            assert (folder / name).is_file(), name


def test_folium_and_every_plugin_used_point_at_local_files() -> None:
    for element in (
        folium.Map,
        plugins.Fullscreen,
        plugins.MeasureControl,
        plugins.MousePosition,
        plugins.MiniMap,
        plugins.VectorGridProtobuf,
        plugins.GroupedLayerControl,
    ):
        for key, _ in [*getattr(element, "default_js", []), *getattr(element, "default_css", [])]:
            url = assets.local_url(key)
            if url is not None:
                assert (assets.STATIC_DIR / url.removeprefix(assets.STATIC_URL + "/")).is_file()


def test_a_page_links_nothing_outside_the_service_and_inlines_into_one_file() -> None:
    sites = '{"type":"FeatureCollection","features":[]}'
    html = assets.render_page(builders.overview_map(sites, None, "en"))
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links and all(link.startswith("/static/maps/") for link in links)
    one_file = assets.inline(html)
    assert 'src="/static' not in one_file and 'href="/static' not in one_file
    assert "url(data:" in one_file


def test_vectorgrid_is_patched_for_leaflet_1_9_and_the_manifest_says_why() -> None:
    """VectorGrid 1.3.0 calls L.DomEvent.fakeStop, which Leaflet 1.9 no longer has."""
    from maps import vendor

    packages = json.loads(MANIFEST.read_text())["packages"]
    grid = next(p for p in packages if p["name"] == "leaflet.vectorgrid")
    (patch,) = grid["patches"]
    assert "fakeStop" in patch["reason"] and patch["replaces"] == vendor.VECTORGRID_CLICK.old
    code = (MANIFEST.parent / grid["folder"] / patch["file"]).read_text(encoding="utf-8")
    assert "fakeStop" not in code and vendor.VECTORGRID_CLICK.new in code
    assert "fakeStop" not in (MANIFEST.parent / "leaflet@1.9.3/dist/leaflet.js").read_text()


def test_a_map_page_says_its_language() -> None:
    """Screen readers and the browser's translation offer read ``<html lang>``."""
    sites = '{"type":"FeatureCollection","features":[]}'
    assert '<html lang="zh-CN">' in assets.render_page(builders.overview_map(sites, None, "zh"))
    assert '<html lang="en">' in assets.render_page(builders.overview_map(sites, None, "en"))
