"""The SensorThings entity sets as SQL over the monitors and their readings.

Each set is a view (a ``SELECT`` whose columns are ``id``, the entity's properties as the
standard names them, and the keys it is joined by, named with a leading ``_``), the
properties a ``$filter`` or ``$orderby`` may name, its navigation links, and a default order
that is total (pages never overlap).

Ids are strings: a Thing, its Location, Sensor and FeatureOfInterest are its monitor's MN;
an ObservedProperty is the HJ 212 factor code; a Datastream ``MN:factor``; an Observation
``MN:factor:statistic:CN:time`` (the reading's key, time in UTC), so an id filter becomes a
lookup on the readings' primary key. A monitor's password is never selected; its other
properties are the public fields of ``layers/monitors.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from geo_service import query
from geo_service.monitoring import hj212
from geo_service.monitoring.factors import FACTORS

PropType = Literal["id", "text", "number", "time", "interval"]
OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
FACTOR_URN = "urn:hj212:2017:factor:"  # an ObservedProperty's definition: the code it is sent as
ID_TIME = "%Y%m%dT%H%M%S.%fZ"  # an Observation id's time (UTC, to the microsecond)


@dataclass(frozen=True)
class Prop:
    """A property a ``$filter`` or ``$orderby`` names: a column of the view; an interval
    (``phenomenonTime``) is its start, its end the column ``end``."""

    column: str
    type: PropType
    end: str | None = None


@dataclass(frozen=True)
class Navigation:
    """A link to another set: the pairs (column here, column there) that join them."""

    target: str
    many: bool
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class EntitySet:
    name: str
    view: str
    output: tuple[str, ...]
    filterable: dict[str, Prop]
    navigation: dict[str, Navigation]
    order: tuple[str, ...]  # columns of the view
    # Composite ids: an id split into the view's key columns (None: no such entity).
    id_parts: Callable[[str], dict[str, Any] | None] | None = None
    properties: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", ("id", *self.output))


def _id(extra: dict[str, Prop] | None = None) -> dict[str, Prop]:
    return {"id": Prop("id", "id"), **(extra or {})}


# The factors as a relation ``f`` (bound as arrays: see ``view_params``).
_FACTORS = """unnest(CAST(:f_code AS text[]), CAST(:f_group AS text[]),
    CAST(:f_name_zh AS text[]), CAST(:f_name_en AS text[]), CAST(:f_unit AS text[]),
    CAST(:f_symbol AS text[]), CAST(:f_definition AS text[]), CAST(:f_kinds AS text[]))
  AS f(code, grp, name_zh, name_en, unit, symbol, definition, kinds)"""


def view_params(base: str) -> dict[str, Any]:
    """The parameters every view may use: the service's address (links in Sensors) and the
    factors of ``reference/hj212_factors.csv``."""
    values = list(FACTORS.values())
    return {
        "base": base,
        "f_code": [f.code for f in values],
        "f_group": [f.group for f in values],
        "f_name_zh": [f.name_zh for f in values],
        "f_name_en": [f.name_en for f in values],
        "f_unit": [f.unit for f in values],
        "f_symbol": [f.symbol for f in values],
        "f_definition": [f.definition for f in values],
        "f_kinds": [",".join(f.kinds) for f in values],
    }


_MONITORS = query.public("monitors")
_THING_PROPERTIES = [f for f in _MONITORS.field_names if f not in ("mn", "name")]
_NAME = "coalesce(m.name, m.mn)"

THINGS = EntitySet(
    name="Things",
    view=f"""SELECT m.mn AS id, m.id AS _monitor, {_NAME} AS name,
  'HJ 212 ' || m.kind || ' monitor ' || m.mn || ' at site ' || {_MONITORS.expr("site")}
    AS description,
  {_MONITORS.properties_json(_THING_PROPERTIES)} AS properties
FROM {_MONITORS.source}""",
    output=("name", "description", "properties"),
    filterable=_id({"name": Prop("name", "text")}),
    navigation={
        "Locations": Navigation("Locations", True, (("_monitor", "_monitor"),)),
        "HistoricalLocations": Navigation("HistoricalLocations", True, (("_monitor", "_monitor"),)),
        "Datastreams": Navigation("Datastreams", True, (("_monitor", "_monitor"),)),
    },
    order=("id",),
)

_POINT = f"""SELECT m.mn AS id, m.id AS _monitor, {_NAME} AS name,
  'Position of monitor ' || m.mn AS description, 'application/geo+json' AS "encodingType",
  ST_AsGeoJSON(m.geom)::json AS {{column}}
FROM monitors m"""

LOCATIONS = EntitySet(
    name="Locations",
    view=_POINT.format(column="location"),
    output=("name", "description", "encodingType", "location"),
    filterable=_id({"name": Prop("name", "text")}),
    navigation={
        "Things": Navigation("Things", True, (("_monitor", "_monitor"),)),
        "HistoricalLocations": Navigation("HistoricalLocations", True, (("_monitor", "_monitor"),)),
    },
    order=("id",),
)

# A monitor stands where it was imported: one historical location, since its import.
HISTORICAL_LOCATIONS = EntitySet(
    name="HistoricalLocations",
    view="SELECT m.mn AS id, m.id AS _monitor, m.created_at AS time FROM monitors m",
    output=("time",),
    filterable=_id({"time": Prop("time", "time")}),
    navigation={
        "Thing": Navigation("Things", False, (("_monitor", "_monitor"),)),
        "Locations": Navigation("Locations", True, (("_monitor", "_monitor"),)),
    },
    order=("id",),
)

SENSORS = EntitySet(
    name="Sensors",
    view="""SELECT m.mn AS id, m.id AS _monitor, 'HJ 212 monitor ' || m.mn AS name,
  'HJ 212-2017 system code ' || m.st || ', ' || m.kind || ' monitor, ' || m.placement
    AS description,
  'text/html' AS "encodingType",
  CAST(:base AS text) || '/ogc/collections/monitors/items/' || m.mn AS metadata
FROM monitors m""",
    output=("name", "description", "encodingType", "metadata"),
    filterable=_id({"name": Prop("name", "text")}),
    navigation={"Datastreams": Navigation("Datastreams", True, (("_monitor", "_monitor"),))},
    order=("id",),
)

OBSERVED_PROPERTIES = EntitySet(
    name="ObservedProperties",
    view=f"""SELECT f.code AS id, f.code AS _factor, f.name_en AS name,
  '{FACTOR_URN}' || f.code AS definition,
  f.name_zh || ' / ' || f.name_en || ' (HJ 212-2017 ' || f.code || ')' AS description,
  json_build_object('code', f.code, 'name_zh', f.name_zh, 'group', f.grp) AS properties
FROM {_FACTORS}""",
    output=("name", "definition", "description", "properties"),
    filterable=_id({"name": Prop("name", "text"), "definition": Prop("definition", "text")}),
    navigation={"Datastreams": Navigation("Datastreams", True, (("_factor", "_factor"),))},
    order=("id",),
)


def _datastream_parts(value: str) -> dict[str, Any] | None:
    mn, colon, factor = value.rpartition(":")
    return {"_mn": mn, "_factor": factor} if colon and mn else None


DATASTREAMS = EntitySet(
    name="Datastreams",
    view=f"""SELECT m.mn || ':' || f.code AS id, m.id AS _monitor, m.mn AS _mn, f.code AS _factor,
  {_NAME} || ' ' || f.name_en AS name,
  f.name_en || ' (' || f.symbol || ') at monitor ' || m.mn AS description,
  '{OM_MEASUREMENT}' AS "observationType",
  json_build_object('name', f.unit, 'symbol', f.symbol, 'definition', f.definition)
    AS "unitOfMeasurement",
  json_build_object('factor', f.code, 'name_zh', f.name_zh) AS properties
FROM monitors m JOIN {_FACTORS} ON m.kind = ANY(string_to_array(f.kinds, ','))""",
    output=("name", "description", "observationType", "unitOfMeasurement", "properties"),
    filterable=_id({"name": Prop("name", "text")}),
    navigation={
        "Thing": Navigation("Things", False, (("_monitor", "_monitor"),)),
        "Sensor": Navigation("Sensors", False, (("_monitor", "_monitor"),)),
        "ObservedProperty": Navigation("ObservedProperties", False, (("_factor", "_factor"),)),
        "Observations": Navigation(
            "Observations", True, (("_monitor", "_monitor"), ("_factor", "_factor"))
        ),
    },
    order=("_mn", "_factor"),
    id_parts=_datastream_parts,
)


def _observation_parts(value: str) -> dict[str, Any] | None:
    parts = value.rsplit(":", 4)
    if len(parts) != 5:
        return None
    mn, factor, statistic, cn, at = parts
    try:
        start = dt.datetime.strptime(at, ID_TIME).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return {"_mn": mn, "_factor": factor, "_statistic": statistic, "_cn": cn, "_start": start}


def _interval_end() -> str:
    """SQL: the end of a reading's interval (NULL for real-time data, an instant)."""
    spans = " ".join(
        f"WHEN '{cn}' THEN r.at + interval '{int(span.total_seconds())} seconds'"
        for cn, span in hj212.DATA_INTERVALS.items()
        if span is not None
    )
    return f"CASE r.cn {spans} END"


OBSERVATIONS = EntitySet(
    name="Observations",
    view=f"""SELECT m.mn || ':' || r.factor || ':' || r.statistic || ':' || r.cn || ':'
    || to_char(r.at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US"Z"') AS id,
  r.monitor_id AS _monitor, m.mn AS _mn, r.factor AS _factor, r.statistic AS _statistic,
  r.cn AS _cn, r.at AS _start, {_interval_end()} AS _end,
  r.value AS result, r.received_at AS "resultTime", r.flag AS "resultQuality",
  json_build_object('statistic', r.statistic, 'command', r.cn) AS parameters
FROM readings r JOIN monitors m ON m.id = r.monitor_id""",
    output=("phenomenonTime", "resultTime", "result", "resultQuality", "parameters"),
    filterable=_id(
        {
            "phenomenonTime": Prop("_start", "interval", end="_end"),
            "resultTime": Prop("resultTime", "time"),
            "result": Prop("result", "number"),
            "resultQuality": Prop("resultQuality", "text"),
        }
    ),
    navigation={
        "Datastream": Navigation(
            "Datastreams", False, (("_monitor", "_monitor"), ("_factor", "_factor"))
        ),
        "FeatureOfInterest": Navigation("FeaturesOfInterest", False, (("_monitor", "_monitor"),)),
    },
    order=("_start", "_mn", "_factor", "_statistic", "_cn"),
    id_parts=_observation_parts,
)

# The feature an observation is of: the monitor's position (the standard's default when
# the observed feature is the Thing's Location).
FEATURES_OF_INTEREST = EntitySet(
    name="FeaturesOfInterest",
    view=_POINT.format(column="feature"),
    output=("name", "description", "encodingType", "feature"),
    filterable=_id({"name": Prop("name", "text")}),
    navigation={"Observations": Navigation("Observations", True, (("_monitor", "_monitor"),))},
    order=("id",),
)

ENTITY_SETS: dict[str, EntitySet] = {
    s.name: s
    for s in (
        THINGS,
        LOCATIONS,
        HISTORICAL_LOCATIONS,
        DATASTREAMS,
        SENSORS,
        OBSERVED_PROPERTIES,
        OBSERVATIONS,
        FEATURES_OF_INTEREST,
    )
}
