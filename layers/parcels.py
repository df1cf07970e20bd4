"""Planning parcels, identified by their code (``XC1003-R21-02``)."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import ARRAY, Float, String

from geo_service.errors import InvalidParcelCode, RowProblem
from geo_service.landuse import describe_land_use, parse_parcel_code
from layers.base import Field, Layer, Search


def prepare(frame: gpd.GeoDataFrame) -> list[RowProblem]:
    """Parse every code; derive unit, land use and index, or report the malformed rows."""
    problems: list[RowProblem] = []
    units, uses, indexes, zh, en = [], [], [], [], []
    for row, raw in zip(frame["_row"], frame["code"], strict=True):
        try:
            parsed = parse_parcel_code(raw) if isinstance(raw, str) else parse_parcel_code("")
        except InvalidParcelCode as exc:
            problems.append(RowProblem(int(row), "code", exc.message))
            units.append(None), uses.append(None), indexes.append(None)
            zh.append(None), en.append(None)
            continue
        units.append(parsed.unit)
        uses.append(list(parsed.land_use))
        indexes.append(parsed.index)
        zh.append(parsed.land_use_zh)
        en.append(parsed.land_use_en)
    frame["code"] = frame["code"].str.strip()
    frame["unit_code"], frame["land_use"], frame["parcel_index"] = units, uses, indexes
    frame["land_use_zh"], frame["land_use_en"] = zh, en
    return problems


LAYER = Layer(
    id="parcels",
    title_zh="规划地块",
    title_en="Planning parcels",
    description="Planning parcels with their GB 50137-2011 land use, parsed from the parcel code.",
    table="parcels",
    geometry_types=("MultiPolygon",),
    feature_id="code",
    mercator="geom_3857",
    natural_key=("code",),
    fields=(
        Field(
            "code",
            "地块编码",
            "Parcel code",
            required=True,
            aliases=("地块编码", "parcel_code"),
            sql=String(64),
        ),
        Field("name", "名称", "Name", aliases=("名称",)),
        # Parsed from the code by ``prepare``: every row has them.
        Field(
            "unit_code",
            "规划单元",
            "Planning unit",
            derived=True,
            sql=String(32),
            nullable=False,
            index=True,
        ),
        Field(
            "land_use",
            "用地性质代码",
            "Land-use classes",
            kind="str_list",
            derived=True,
            describe=describe_land_use,
            sql=ARRAY(String(8)),
            nullable=False,
        ),
        Field(
            "parcel_index", "地块序号", "Parcel index", derived=True, sql=String(8), nullable=False
        ),
        Field("land_use_zh", "用地性质", "Land use (Chinese)", derived=True, nullable=False),
        Field("land_use_en", "用地性质（英文）", "Land use", derived=True, nullable=False),
        Field(
            "area_m2",
            "面积",
            "Area",
            kind="float",
            unit="m²",
            derived=True,
            sql=Float(),
            computed="ST_Area(geography(geom))",
        ),
    ),
    search=Search(keys=("code", "name"), label="code", detail=("land_use_zh", "name"), rank=2),
    popup_fields=("code", "name", "land_use_zh", "area_m2"),
    style={"color": "#666666", "weight": 1, "fillOpacity": 0.5, "fill_by": "land_use"},
    prepare=prepare,
)
