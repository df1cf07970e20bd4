"""The pinyin of searchable names, so the maps' search box finds 华丰 from "hf" or "huafeng".

Each searchable layer's table gets ``search_pinyin`` (``geo_service.pinyin``: the full
pinyin and the initials of its search keys), which every import writes from now on; the
rows stored before are spelt here, in Python, 5,000 at a time. Then a pg_trgm GIN index on
every search key and on the pinyin (``geo_service.schema.search_indexes``). Going down
drops them; the pg_trgm extension stays, as postgis does (other objects may use it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from geo_service.pinyin import write_spellings

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The searchable tables and their search keys as this revision found them.
SEARCH_KEYS = {
    "parcels": ("code", "name"),
    "sites": ("code", "name"),
    "communities": ("name",),
    "buildings": ("address",),
}


def _indexed(keys: Sequence[str]) -> tuple[str, ...]:
    return (*keys, "search_pinyin")


def upgrade() -> None:
    # Trusted since PostgreSQL 13: the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, keys in SEARCH_KEYS.items():
        op.add_column(table, sa.Column("search_pinyin", sa.Text(), nullable=True))
        write_spellings(op.get_bind(), table, keys)
        for column in _indexed(keys):
            op.create_index(
                f"ix_{table}_{column}_trgm",
                table,
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )


def downgrade() -> None:
    for table, keys in SEARCH_KEYS.items():
        for column in _indexed(keys):
            op.drop_index(f"ix_{table}_{column}_trgm", table_name=table)
        op.drop_column(table, "search_pinyin")
