"""The noise and vibration model's facts and formulas, read from ``reference/``.

The impact views (``geo_service/impact/sql/``) do the per-household arithmetic in SQL; this
module holds the same formulas for explanations (each equipment line's contribution), tested
equal to the views on the same inputs, and keeps the reference tables in the database equal
to the files, so the files stay the one source.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Connection, inspect, text


@dataclass(frozen=True)
class EquipmentType:
    """An FHWA RCNM equipment type: Lmax at the reference distance, usage factor, FTA PPV."""

    code: str
    name_zh: str
    name_en: str
    lmax_15m_dba: float
    usage_factor_pct: float
    ppv_25ft_in_s: float | None


@cache
def model() -> dict[str, Any]:
    """``reference/noise.yaml``: limits, hours, propagation and vibration parameters."""
    text_ = resources.files("geo_service.reference").joinpath("noise.yaml").read_text("utf-8")
    return yaml.safe_load(text_)


@cache
def equipment_types() -> dict[str, EquipmentType]:
    """``reference/equipment.csv`` by code."""
    text_ = resources.files("geo_service.reference").joinpath("equipment.csv").read_text("utf-8")
    return {
        r["code"]: EquipmentType(
            r["code"],
            r["name_zh"],
            r["name_en"],
            float(r["lmax_15m_dba"]),
            float(r["usage_factor_pct"]),
            float(r["ppv_25ft_in_s"]) if r["ppv_25ft_in_s"] else None,
        )
        for r in csv.DictReader(text_.splitlines())
    }


def leq_at_reference(kind: EquipmentType, count: int = 1, attenuation_db: float = 0.0) -> float:
    """Hourly Leq of ``count`` machines at the reference distance: Lmax + 10 log10(UF/100)."""
    return (
        kind.lmax_15m_dba
        + 10 * math.log10(kind.usage_factor_pct / 100)
        + 10 * math.log10(count)
        - attenuation_db
    )


def energy_sum(levels: Iterable[float]) -> float | None:
    """Levels add as 10 log10(sum 10^(L/10)); None when there is nothing to add."""
    total = sum(10 ** (level / 10) for level in levels)
    return 10 * math.log10(total) if total > 0 else None


def level_at(reference_level: float, distance_m: float) -> float:
    """Point-source spreading from the reference distance: - 20 log10(r / r0)."""
    params = model()
    r = max(distance_m, params["minimum_distance_m"])
    return reference_level - 20 * math.log10(r / params["reference_distance_m"])


def vibration_distance_m(ppv_ref_in_s: float, threshold_in_s: float) -> float:
    """FTA: the distance at which PPV_ref * (25 / D)^1.5 falls to the threshold, in metres."""
    vib = model()["vibration"]
    feet = vib["reference_distance_ft"] * (ppv_ref_in_s / threshold_in_s) ** (1 / vib["exponent"])
    return feet * 0.3048


def sync_reference(conn: Connection) -> None:
    """Make the reference tables equal to the files (run by every migrate)."""
    if not inspect(conn).has_table("impact_model"):
        return
    params = model()
    conn.execute(text("DELETE FROM impact_model"))
    vib = params["vibration"]
    conn.execute(
        text(
            "INSERT INTO impact_model (reference_distance_m, minimum_distance_m, vib_reference_ft, "
            "vib_exponent, damage_ppv_in_s, annoyance_ppv_in_s, default_class, boundary_day_dba, "
            "boundary_night_dba, default_bands_m, default_kinds) VALUES (:r0, :rmin, :vr, :vn, "
            ":dmg, :ann, :cls, :bd, :bn, :bands, :kinds)"
        ),
        {
            "r0": params["reference_distance_m"],
            "rmin": params["minimum_distance_m"],
            "vr": vib["reference_distance_ft"],
            "vn": vib["exponent"],
            "dmg": vib["damage_ppv_in_s"],
            "ann": vib["annoyance_ppv_in_s"],
            "cls": params["default_acoustic_class"],
            "bd": params["site_boundary"]["day"],
            "bn": params["site_boundary"]["night"],
            "bands": [float(b) for b in params["default_bands_m"]],
            "kinds": list(params["default_kinds"]),
        },
    )
    for cls, row in params["receiving_zones"].items():
        conn.execute(
            text(
                "INSERT INTO acoustic_limits VALUES (:c, :d, :n, :zh, :en) ON CONFLICT "
                "(acoustic_class) DO UPDATE SET day_dba = EXCLUDED.day_dba, night_dba = "
                "EXCLUDED.night_dba, name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en"
            ),
            {
                "c": cls,
                "d": row["day"],
                "n": row["night"],
                "zh": row["name_zh"],
                "en": row["name_en"],
            },
        )
    for kind in equipment_types().values():
        conn.execute(
            text(
                "INSERT INTO equipment_types VALUES (:code, :zh, :en, :lmax, :uf, :ppv) "
                "ON CONFLICT (code) DO UPDATE SET name_zh = EXCLUDED.name_zh, "
                "name_en = EXCLUDED.name_en, lmax_15m_dba = EXCLUDED.lmax_15m_dba, "
                "usage_factor_pct = EXCLUDED.usage_factor_pct, "
                "ppv_25ft_in_s = EXCLUDED.ppv_25ft_in_s"
            ),
            {
                "code": kind.code,
                "zh": kind.name_zh,
                "en": kind.name_en,
                "lmax": kind.lmax_15m_dba,
                "uf": kind.usage_factor_pct,
                "ppv": kind.ppv_25ft_in_s,
            },
        )
    # One-row and tiny tables: without statistics the planner guesses hundreds of rows and
    # may skip the households' spatial index.
    conn.execute(text("ANALYZE impact_model, acoustic_limits, equipment_types"))
