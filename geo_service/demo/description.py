"""The district description: ``data/demo/district.yaml`` read and checked.

Belongs here: reading the file and refusing the mistakes a hand edit makes, and the small
readers of its entries (a parcel entry, a date) that the district and the city share. The
facts themselves (places, parcel codes, counts, parties, the city's shares) stay in the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from geo_service.landuse import parse_parcel_code
from layers.communities import ACOUSTIC_CLASSES
from layers.sites import SITE_KINDS, SITE_STATUSES

DISTRICT_YAML = Path(__file__).resolve().parents[2] / "data" / "demo" / "district.yaml"
SIDES = ("north", "south", "east", "west")


class DistrictError(ValueError):
    """The district description is inconsistent; the message names the entry to fix."""


def load_district(path: Path | None = None) -> dict[str, Any]:
    """Read the district description and reject the mistakes a hand edit makes."""
    path = Path(path) if path is not None else DISTRICT_YAML
    with path.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = yaml.safe_load(fh)
    codes: list[str] = []
    for site in spec["sites"]:
        if site.get("kind") not in SITE_KINDS:
            raise DistrictError(f"site {site['code']}: kind must be one of {SITE_KINDS}")
        if site.get("status") not in SITE_STATUSES:
            raise DistrictError(f"site {site['code']}: status must be one of {SITE_STATUSES}")
        codes += [parcel_entry(p)["code"] for p in site.get("parcels", [])]
        codes += [f["code"] for f in site.get("frontage", [])]
    site_codes = {s["code"] for s in spec["sites"]}
    for community in spec["communities"]:
        community["acoustic_class"] = str(community["acoustic_class"])
        if community["acoustic_class"] not in ACOUSTIC_CLASSES:
            raise DistrictError(f"community {community['name']}: unknown acoustic class")
        beside = community.get("beside")
        if beside and (beside["site"] not in site_codes or beside["side"] not in SIDES):
            raise DistrictError(f"community {community['name']}: bad 'beside' {beside}")
        for kind in community["buildings"]:
            if kind not in spec["typologies"]:
                raise DistrictError(f"community {community['name']}: unknown typology {kind}")
        codes += [parcel_entry(p)["code"] for p in community.get("parcels", [])]
    for code in codes:
        parse_parcel_code(code)
        if parse_parcel_code(code).unit not in spec["planning_units"]:
            raise DistrictError(f"parcel {code}: its unit is not in planning_units")
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise DistrictError(f"parcel codes used twice: {', '.join(duplicates)}")
    return spec


def parcel_entry(entry: str | Mapping[str, Any]) -> dict[str, Any]:
    """A parcel entry as a mapping: a bare code means an equal share of the width."""
    return {"code": entry} if isinstance(entry, str) else dict(entry)


def as_date(value: Any) -> dt.date | None:
    """A date from the file: YAML reads an unquoted one as a date, a quoted one as text."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
