"""A site's impact settings (bands, kinds, active phase) and planned equipment, checked
before they are stored: the views read them on the next query."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection, text

from geo_service import noise
from geo_service.access import Permission, Principal
from geo_service.errors import Forbidden, InvalidImpactSettings
from geo_service.settings import BandRules

MAX_BANDS_M = 5000.0


def current_bands(conn: Connection, site_id: int) -> list[float]:
    """The bands the site's impact is computed with now (its own, or the model's default)."""
    bands = conn.execute(
        text("SELECT bands_m FROM site_impact WHERE site_id = :s"), {"s": site_id}
    ).scalar_one()
    return list(bands)


def check_band_edit(
    principal: Principal, site_id: int, current: list[float], bands_m: list[float], rules: BandRules
) -> bool:
    """Refuse bands that would let this editor isolate households or widen the liaison
    officers' personal-data scope without the right to; return whether the edit widens it.

    - the outer band never passes ``rules.max_outer_band_m``;
    - an editor who may not see the site's personal fields draws edges on the
      ``rules.band_step_m`` grid (so no band is narrower than a step);
    - moving the outer band out needs ``Permission.WIDEN_PERSONAL_SCOPE`` (administrators).
    """
    outer = bands_m[-1] if bands_m else 0.0
    if outer > rules.max_outer_band_m:
        raise InvalidImpactSettings(
            f"the outer band may reach at most {rules.max_outer_band_m:g} m "
            f"(GEO_SERVICE_IMPACT_MAX_OUTER_BAND_M); got {outer:g} m"
        )
    step = rules.band_step_m
    if not principal.can_read_personal(site_id):
        off = [b for b in bands_m if not math.isclose(b / step, round(b / step), abs_tol=1e-9)]
        if off:
            raise InvalidImpactSettings(
                f"band edges must be multiples of {step:g} m for a role that may not see the "
                f"households' personal fields, so that no band isolates a few households; "
                f"got {', '.join(f'{b:g}' for b in off)} m"
            )
    widens = outer > current[-1]
    if widens and not principal.has(Permission.WIDEN_PERSONAL_SCOPE):
        raise Forbidden(
            f"moving the outer band from {current[-1]:g} m to {outer:g} m adds households, "
            "with their contacts, to what this site's liaison officers may read; "
            "an administrator must make this change"
        )
    return widens


def set_settings(
    conn: Connection,
    site_id: int,
    *,
    bands_m: list[float] | None = None,
    kinds: list[str] | None = None,
    active_phase: str | None = None,
) -> None:
    """Store a site's bands, impact kinds and active phase after checking them."""
    if bands_m is not None:
        if not bands_m or any(not math.isfinite(b) or b <= 0 or b > MAX_BANDS_M for b in bands_m):
            raise InvalidImpactSettings(
                f"bands must be 1-10 distances above 0 and at most {MAX_BANDS_M:.0f} m; "
                f"got {bands_m}"
            )
        if sorted(set(bands_m)) != list(bands_m) or len(bands_m) > 10:
            raise InvalidImpactSettings(
                f"bands must be increasing outer distances, e.g. [50, 200, 500]; got {bands_m}"
            )
    allowed = noise.model()["default_kinds"]
    if kinds is not None and (not kinds or any(k not in allowed for k in kinds)):
        raise InvalidImpactSettings(
            f"impact kinds must be some of {', '.join(allowed)}; got {kinds}"
        )
    conn.execute(
        text("""
INSERT INTO site_impact_settings (site_id, bands_m, kinds, active_phase, updated_at)
VALUES (:s, :bands, :kinds, :phase, now())
ON CONFLICT (site_id) DO UPDATE SET bands_m = EXCLUDED.bands_m, kinds = EXCLUDED.kinds,
    active_phase = EXCLUDED.active_phase, updated_at = now()"""),
        {"s": site_id, "bands": bands_m, "kinds": kinds, "phase": active_phase},
    )


def set_equipment(conn: Connection, site_id: int, lines: list[dict[str, Any]]) -> None:
    """Replace a site's planned equipment (all phases) after checking every line."""
    types = noise.equipment_types()
    for n, line in enumerate(lines, 1):
        code = line.get("equipment")
        if code not in types:
            raise InvalidImpactSettings(
                f"equipment line {n}: unknown equipment {code!r}; known: {', '.join(types)}"
            )
        count = line.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 1000:
            raise InvalidImpactSettings(f"equipment line {n}: count must be 1-1000, got {count!r}")
        attenuation = line.get("attenuation_db", 0.0)
        if not isinstance(attenuation, int | float) or not 0 <= attenuation <= 40:
            raise InvalidImpactSettings(
                f"equipment line {n}: attenuation_db must be 0-40 dB, got {attenuation!r}"
            )
    conn.execute(text("DELETE FROM site_equipment WHERE site_id = :s"), {"s": site_id})
    if lines:
        conn.execute(
            text(
                "INSERT INTO site_equipment (site_id, phase, equipment_code, count, night_work, "
                "attenuation_db) VALUES (:s, :phase, :code, :count, :night, :att)"
            ),
            [
                {
                    "s": site_id,
                    "phase": str(line.get("phase") or "main"),
                    "code": line["equipment"],
                    "count": line.get("count", 1),
                    "night": bool(line.get("night_work", False)),
                    "att": float(line.get("attenuation_db", 0.0)),
                }
                for line in lines
            ],
        )
