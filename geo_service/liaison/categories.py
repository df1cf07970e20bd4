"""The request categories and their SLAs: data in ``reference/request_categories.csv``
(acknowledge within hours, resolve within working days; the defaults 24 h and 10 working
days are the UK Considerate Constructors Scheme's), synced into ``request_categories`` by
every migrate, so a city's own SLA is an edit of the file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import Connection, inspect, text

from geo_service.errors import InvalidCase


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    acknowledge_hours: int
    resolve_working_days: int


def from_file() -> list[Category]:
    """The categories as the reference file has them, in its order."""
    source = resources.files("geo_service.reference") / "request_categories.csv"
    with source.open(encoding="utf-8") as f:
        return [
            Category(
                r["code"],
                r["name_zh"],
                r["name_en"],
                int(r["acknowledge_hours"]),
                int(r["resolve_working_days"]),
            )
            for r in csv.DictReader(f)
        ]


def sync(conn: Connection) -> None:
    """Make ``request_categories`` equal to the file (run by every migrate). A category
    still used by requests stays when the file drops it, so their history reads."""
    if not inspect(conn).has_table("request_categories"):
        return
    rows = from_file()
    for position, c in enumerate(rows):
        conn.execute(
            text(
                "INSERT INTO request_categories VALUES (:code, :zh, :en, :ack, :days, :pos) "
                "ON CONFLICT (code) DO UPDATE SET name_zh = EXCLUDED.name_zh, "
                "name_en = EXCLUDED.name_en, acknowledge_hours = EXCLUDED.acknowledge_hours, "
                "resolve_working_days = EXCLUDED.resolve_working_days, "
                "position = EXCLUDED.position"
            ),
            {
                "code": c.code,
                "zh": c.name_zh,
                "en": c.name_en,
                "ack": c.acknowledge_hours,
                "days": c.resolve_working_days,
                "pos": position,
            },
        )
    conn.execute(
        text(
            "DELETE FROM request_categories WHERE code <> ALL(:codes) "
            "AND code NOT IN (SELECT category FROM requests)"
        ),
        {"codes": [c.code for c in rows]},
    )


def all_categories(conn: Connection) -> list[Category]:
    rows = conn.execute(
        text(
            "SELECT code, name_zh, name_en, acknowledge_hours, resolve_working_days "
            "FROM request_categories ORDER BY position"
        )
    )
    return [Category(*r) for r in rows]


def get_category(conn: Connection, code: str) -> Category:
    """The category with this code, or an error that lists the ones there are."""
    found = {c.code: c for c in all_categories(conn)}
    if code not in found:
        raise InvalidCase(
            f"unknown category {code!r}; categories are: {', '.join(found)}",
            zh=f"没有“{code}”这一诉求类别",
        )
    return found[code]
