"""Indexes for the working group's lists at city scale: a site's requests newest first (the
board's first page), all requests newest first (the city's list, Open311's requests.json),
and a site's visits per household (coverage, dashboards). Declared by the layers
(``Layer.indexes``); measured in ``benchmarks/liaison.py``.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_requests_site_created", "requests", ["site_id", "created_at", "id"]),
    ("ix_requests_created", "requests", ["created_at", "id"]),
    ("ix_visits_site_household", "visits", ["site_id", "household_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
