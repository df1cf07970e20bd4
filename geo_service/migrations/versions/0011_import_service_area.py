"""The service area imports check against, stored so an administrator changes it at run time.

``GEO_SERVICE_IMPORT_SERVICE_AREA`` stays the default; a row here overrides it for every
server process at once, from the next import on (``geo_service.ingest.area``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE import_service_area (
    id boolean PRIMARY KEY DEFAULT true,
    west double precision NOT NULL,
    south double precision NOT NULL,
    east double precision NOT NULL,
    north double precision NOT NULL,
    updated_by text,
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT ck_import_service_area_one_row CHECK (id),
    CONSTRAINT ck_import_service_area_lon CHECK (west >= -180 AND west < east AND east <= 180),
    CONSTRAINT ck_import_service_area_lat CHECK (south >= -90 AND south < north AND north <= 90)
)""")


def downgrade() -> None:
    op.execute("DROP TABLE import_service_area")
