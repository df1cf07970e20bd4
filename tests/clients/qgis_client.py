"""QGIS as a client of a running service: run by Debian's Python with PyQGIS, headless.

    /usr/bin/python3 tests/clients/qgis_client.py BASE_URL USER TOKEN

It does what an analyst does in QGIS: an OGC API - Features connection with Basic
authentication (the user's name, the API token as the password), a layer per collection,
all its features, the features in a map extent, and the vector tile layer of the map. It
prints one JSON document of what QGIS saw; ``tests/ogc/test_qgis_client.py`` checks it.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import tempfile

faulthandler.enable()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A throwaway profile: the authentication database must not be the user's, nor the
# network cache (in XDG_CACHE_HOME) another run's: answers may be kept 60 s, and Qt's cache
# ignores Vary: Authorization, so it would give one token's answers to the next.
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp(prefix="qgis-auth-")
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="qgis-cache-")

from qgis.core import (  # noqa: E402  (the environment above must come first)
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsFeatureRequest,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def main(base: str, user: str, token: str, collections: str) -> dict:
    """``collections``: the service's, comma-separated (the test passes ``layers.COLLECTIONS``:
    this script runs in Debian's Python, outside the project's venv)."""
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    auth = QgsApplication.authManager()
    auth.setMasterPassword("qgis-client-check", True)
    config = QgsAuthMethodConfig("Basic")
    config.setName("geo-service")
    config.setConfig("username", user)
    config.setConfig("password", token)
    auth.storeAuthenticationConfig(config)
    authcfg = config.id()

    out: dict = {"qgis": Qgis.version(), "layers": {}}
    for name in collections.split(","):
        layer = QgsVectorLayer(
            f"url='{base}/ogc' typename='{name}' authcfg={authcfg}", name, "OAPIF"
        )
        info: dict = {"valid": layer.isValid()}
        if layer.isValid():
            # What the attribute table and the layer tree show, before any feature is read.
            info["feature_count"] = layer.featureCount()
            features = list(layer.getFeatures())
            info |= {
                "crs": layer.crs().authid(),
                "fields": [f.name() for f in layer.fields()],
                "features": len(features),
                "ids": sorted(str(f["id"]) for f in features)
                if "id" in layer.fields().names()
                else [],
                "geometry_types": sorted({f.geometry().wkbType() for f in features}),
            }
            if name == "parcels":
                box = QgsRectangle(120.1575, 30.2655, 120.1612, 30.2685)
                inside = list(layer.getFeatures(QgsFeatureRequest().setFilterRect(box)))
                info["in_extent"] = sorted(str(f["code"]) for f in inside)
                first = next(iter(layer.getFeatures(QgsFeatureRequest().setLimit(1))))
                info["first_code"] = str(first["code"])
        out["layers"][name] = info

    tiles = QgsVectorTileLayer(
        f"type=xyz&url={base}/ogc/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
        f"&zmin=0&zmax=22&authcfg={authcfg}",
        "map tiles",
    )
    out["tiles"] = {"valid": tiles.isValid()}
    if tiles.isValid():
        settings = QgsMapSettings()
        settings.setLayers([tiles])
        settings.setDestinationCrs(tiles.crs())
        settings.setOutputSize(QSize(512, 512))
        settings.setBackgroundColor(QColor(255, 255, 255))
        # The district in Web Mercator (about 120.155..120.165, 30.264..30.272).
        settings.setExtent(QgsRectangle(13375500, 3538400, 13376700, 3539400))
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        white = QColor(255, 255, 255).rgb()
        drawn = sum(image.pixel(x, y) != white for x in range(0, 512, 4) for y in range(0, 512, 4))
        out["tiles"]["drawn_pixels_sampled"] = drawn
        out["tiles"]["errors"] = [e.message for e in job.errors()]
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])), flush=True)
    # QGIS 3.22 crashes tearing down its layers at interpreter exit; what it saw is printed.
    os._exit(0)
