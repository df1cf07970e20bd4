"""The demo district and the city-scale synthetic data set.

``data/demo/district.yaml`` holds the facts people recognise (places, parcel codes, counts,
parties); this package turns them into one frame per layer with exactly that layer's import
columns, so the demo travels through the same import pipeline as a user's files.

Geometry is laid out in metres in the working CRS (CGCS2000 Gauss-Kruger) and reprojected
to EPSG:4326 at the end. Output is deterministic: generators are seeded from the file's seed
and the name of what they generate, never from time or iteration order.

Every resident is fictional and looks it: contact names read ``示例-王某`` and phones
``199-0000-NNNN``. China has no reserved fictional number range, so the ``0000`` block and the
``示例`` ("example") prefix are what mark these as fake; they must never reach a real dialler.

By concern: ``description`` reads and checks the file, ``geometry`` and ``housing`` hold
what the district and the city both build from, ``frames`` the shape of their output,
``district`` lays out and loads the demo, ``samples`` cuts the sample import files from it,
``city`` generates the million households of the benchmarks, ``osm`` turns an OpenStreetMap
extract (``data/samples/osm``) into import files. ``geo-service demo`` runs them.
"""

from geo_service.demo.city import write_city
from geo_service.demo.description import DISTRICT_YAML, DistrictError, load_district
from geo_service.demo.district import build_demo_district, load_demo, write_demo_files
from geo_service.demo.frames import import_columns
from geo_service.demo.samples import write_samples

__all__ = [
    "DISTRICT_YAML",
    "DistrictError",
    "build_demo_district",
    "import_columns",
    "load_demo",
    "load_district",
    "write_city",
    "write_demo_files",
    "write_samples",
]
