"""The impact model: who each site affects and how badly, and the settings that drive it.

The arithmetic lives in database views (``household_impacts``, ``site_impact``,
``impact_zones``), one readable file each in ``sql/``, computed from the current rows on
every query: a change of a site's geometry, bands or equipment, or of the households, shows
in the next answer.
Bands are inclusive at their outer edge: a household exactly 50 m away is in the 0-50 m band,
and a household counts as affected when its geodesic distance is at most the outer band.

What belongs here, by concern:

- ``sql/`` and ``views``: the views, and how every migrate makes the database hold them;
- ``households``: a site's household list (columns, labels, rows, JSON written by PostgreSQL);
- ``summary``: a site's and a community's aggregates, households of several sites, the
  prediction's inputs;
- ``settings``: a site's bands, kinds, active phase and equipment, checked before they are
  stored;
- ``sites``: a site by code or id;
- ``points``: the prediction at any point (a monitor's position).

The noise model's facts are data in ``geo_service/reference/``, its formulas in
``geo_service.noise``. Callers import the queries from this package, not from its modules
(``geo_service.database`` alone uses ``views``, to apply them).
"""

from geo_service.impact.households import (
    DOOR_ORDER,
    LIST_COLUMNS,
    HouseholdsPage,
    Sort,
    affected_households,
    affected_households_json,
    count_affected,
    door_order,
    households_json_query,
    households_query,
    list_columns,
    list_sql,
    personal_columns,
    rounded,
)
from geo_service.impact.points import PointPrediction, predict_at
from geo_service.impact.settings import (
    MAX_BANDS_M,
    check_band_edit,
    current_bands,
    set_equipment,
    set_settings,
)
from geo_service.impact.sites import SiteRef, resolve_site
from geo_service.impact.summary import (
    community_exposure,
    multi_site_households,
    site_impact,
    site_parameters,
)

__all__ = [
    "DOOR_ORDER",
    "LIST_COLUMNS",
    "MAX_BANDS_M",
    "HouseholdsPage",
    "PointPrediction",
    "SiteRef",
    "Sort",
    "affected_households",
    "affected_households_json",
    "check_band_edit",
    "community_exposure",
    "count_affected",
    "current_bands",
    "door_order",
    "households_json_query",
    "households_query",
    "list_columns",
    "list_sql",
    "multi_site_households",
    "personal_columns",
    "predict_at",
    "resolve_site",
    "rounded",
    "set_equipment",
    "set_settings",
    "site_impact",
    "site_parameters",
]
