"""Import of layer files: read, reproject, validate every row, then write all or nothing.

The same pipeline serves ``geo-service import``, ``POST /api/imports/{layer}`` and the
demo loader. Checks are vectorised (shapely 2, pandas) and the rows reach PostgreSQL by
``COPY``, so a million households import in seconds; problems are reported by row number
(row 1 is the first data row of the file) and nothing is written unless every row passes.

One module per concern: ``read`` (files, zip safety, CRS), ``check`` (columns, fields,
duplicates, references), ``geometry`` (the geometry checks), ``area`` (the service area the
geometries must lie in), ``write`` (the COPY writer), ``progress``, ``report``, and
``pipeline`` (``import_file``, ``import_frame``). Callers import from this package, not
from its modules.
"""

from geo_service.ingest import area
from geo_service.ingest.pipeline import MODES, import_file, import_frame, record_rejection
from geo_service.ingest.progress import NoProgress, Progress, TqdmProgress
from geo_service.ingest.read import SUFFIXES, read_file
from geo_service.ingest.report import ImportReport

__all__ = [
    "MODES",
    "SUFFIXES",
    "ImportReport",
    "NoProgress",
    "Progress",
    "TqdmProgress",
    "area",
    "import_file",
    "import_frame",
    "read_file",
    "record_rejection",
]
