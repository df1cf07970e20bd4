"""Fetch the web assets the maps use from the npm registry, pinned, into ``static/vendor``.

Run once by a maintainer (``python -m maps.vendor``), never at install or run time: the
files are committed, so the maps work on a network without internet access. Each package
keeps its own relative paths, so the ``url(...)`` references inside its CSS still resolve.
``MANIFEST.json`` records name, version, licence, files and source of every package.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"


@dataclass(frozen=True)
class Patch:
    """A fix applied to a vendored file after unpacking it; the manifest records why."""

    file: str
    old: str
    new: str
    reason: str

    def apply(self, text: str) -> str:
        if text.count(self.old) != 1:
            raise ValueError(f"patch for {self.file} no longer applies: {self.reason}")
        return text.replace(self.old, self.new)


@dataclass(frozen=True)
class Package:
    """An npm package, the files the maps load from it, its licence file and our patches."""

    name: str
    version: str
    files: tuple[str, ...]
    licence_file: str
    patches: tuple[Patch, ...] = ()

    @property
    def folder(self) -> str:
        return f"{self.name.replace('@', '').replace('/', '-')}@{self.version}"


# VectorGrid 1.3.0 (the last release, 2018) calls L.DomEvent.fakeStop, which Leaflet 1.8
# removed: every click on a tile feature threw (upstream issue #274; the fix, pull request
# #288, is merged but unreleased). Leaflet >= 1.8 marks a renderer's canvas
# ``_leaflet_disable_events`` and the renderer hands every click to the map itself; the patch
# does what Leaflet 1.9's own Canvas._onClick does.
VECTORGRID_CLICK = Patch(
    "dist/Leaflet.VectorGrid.bundled.min.js",
    "r&&(L.DomEvent.fakeStop(t),this._fireEvent([r],t))",
    "this._fireEvent(!!r&&[r],t)",
    "Leaflet >= 1.8 has no L.DomEvent.fakeStop, so every click on a tile feature threw "
    "(Leaflet.VectorGrid issue #274, fixed by the unreleased pull request #288); the tile "
    "canvas hands its clicks to the map as Leaflet 1.9's own Canvas._onClick does",
)

PACKAGES: tuple[Package, ...] = (
    Package(
        "leaflet",
        "1.9.3",
        (
            "dist/leaflet.js",
            "dist/leaflet.css",
            "dist/images/layers.png",
            "dist/images/layers-2x.png",
            "dist/images/marker-icon.png",
            "dist/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png",
        ),
        "LICENSE",
    ),
    Package("jquery", "3.7.1", ("dist/jquery.min.js",), "LICENSE.txt"),
    Package(
        "bootstrap",
        "5.2.2",
        ("dist/js/bootstrap.bundle.min.js", "dist/css/bootstrap.min.css"),
        "LICENSE",
    ),
    Package(
        "@fortawesome/fontawesome-free",
        "6.2.0",
        (
            "css/all.min.css",
            *(
                f"webfonts/fa-{font}.{ext}"
                for font in ("brands-400", "regular-400", "solid-900", "v4compatibility")
                for ext in ("woff2", "ttf")
            ),
        ),
        "LICENSE.txt",
    ),
    Package(
        "leaflet.awesome-markers",
        "2.0.5",
        (
            "dist/leaflet.awesome-markers.js",
            "dist/leaflet.awesome-markers.css",
            "dist/images/markers-soft.png",
            "dist/images/markers-soft@2x.png",
            "dist/images/markers-shadow.png",
            "dist/images/markers-shadow@2x.png",
        ),
        "LICENSE",
    ),
    Package(
        "leaflet.fullscreen",
        "3.0.0",
        ("Control.FullScreen.js", "Control.FullScreen.css", "icon-fullscreen.svg"),
        "LICENSE",
    ),
    Package(
        "leaflet-measure",
        "2.1.7",
        (
            "dist/leaflet-measure.min.js",
            "dist/leaflet-measure.css",
            *(
                f"dist/images/{icon}{suffix}.png"
                for icon in ("cancel", "check", "focus", "rulers", "start", "trash")
                for suffix in ("", "_@2X")
            ),
        ),
        "LICENSE",
    ),
    Package(
        "leaflet-minimap",
        "3.6.1",
        (
            "dist/Control.MiniMap.min.js",
            "dist/Control.MiniMap.min.css",
            "dist/images/toggle.png",
            "dist/images/toggle.svg",
        ),
        "LICENSE.txt",
    ),
    Package(
        "leaflet-mouse-position",
        "1.2.0",
        ("src/L.Control.MousePosition.js", "src/L.Control.MousePosition.css"),
        "MIT-LICENCE.txt",
    ),
    Package(
        "leaflet.vectorgrid",
        "1.3.0",
        ("dist/Leaflet.VectorGrid.bundled.min.js",),
        "",  # Beerware: the package ships no licence file; MANIFEST records the licence
        (VECTORGRID_CLICK,),
    ),
    Package(
        "leaflet-groupedlayercontrol",
        "0.6.1",
        ("dist/leaflet.groupedlayercontrol.min.js", "dist/leaflet.groupedlayercontrol.min.css"),
        "",  # MIT (package.json); the package ships no licence file
    ),
    # Apache ECharts: the charts of the dashboards and the monitor pages (time series with
    # the limits drawn, LTTB sampling for a month of minute data, zh/en built in). NOTICE
    # travels with it, as the Apache licence asks.
    Package("echarts", "6.1.0", ("dist/echarts.min.js", "NOTICE"), "LICENSE"),
)


def fetch(package: Package, workdir: Path) -> dict:
    """``npm pack`` one package, copy its files and licence, and describe them."""
    spec = f"{package.name}@{package.version}"
    out = subprocess.run(
        ["npm", "pack", spec, "--silent"], cwd=workdir, check=True, capture_output=True, text=True
    )
    tarball = workdir / out.stdout.strip().splitlines()[-1]
    unpacked = workdir / package.folder
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="data")
    root = unpacked / "package"
    meta = json.loads((root / "package.json").read_text())
    target = VENDOR_DIR / package.folder
    files = [*package.files, *([package.licence_file] if package.licence_file else [])]
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, target / name)
    for patch in package.patches:
        path = target / patch.file
        path.write_text(patch.apply(path.read_text(encoding="utf-8")), encoding="utf-8")
    return {
        "name": package.name,
        "version": meta["version"],
        "licence": meta.get("license", "unknown"),
        "licence_file": package.licence_file or None,
        "folder": package.folder,
        "files": list(package.files),
        "source": "npm",
        **({"patches": [_described(p) for p in package.patches]} if package.patches else {}),
    }


def _described(patch: Patch) -> dict:
    return {"file": patch.file, "reason": patch.reason, "replaces": patch.old, "with": patch.new}


def main() -> None:
    if VENDOR_DIR.exists():
        for child in VENDOR_DIR.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        entries = [fetch(p, Path(tmp)) for p in PACKAGES]
    (VENDOR_DIR / "MANIFEST.json").write_text(
        json.dumps({"packages": entries}, indent=2, ensure_ascii=False) + "\n"
    )
    print(f"vendored {len(entries)} packages into {VENDOR_DIR}")


if __name__ == "__main__":
    main()
