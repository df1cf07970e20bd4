"""Noise and dust monitors at construction sites (智慧工地): what reports over HJ 212-2017.

A monitor is known by its device number ``mn`` (the MN of its packets) and checked by its
password (``password``: secret, read only by the receiver), its system code ``st`` and its
checksum mode (``crc_mode``: the standard's, or Modbus CRC-16 as some devices send). Indoor
monitors are held to limits 10 dB lower (GB 12523-2011 4.3).
"""

from __future__ import annotations

from sqlalchemy import Integer, String

from layers.base import CODE, Choice, Field, Latest, Layer, Reference

# HJ 212 system codes a site monitor sends: construction dust, acoustic environment, noise
# source (geo_service/monitoring/hj212.py reads the others too).
SYSTEM_CODES = (
    Choice("39", "39 建筑施工扬尘", "39 Construction dust"),
    Choice("23", "23 声环境质量", "23 Acoustic environment"),
    Choice("36", "36 噪声污染源", "36 Noise source"),
)
MONITOR_KINDS = (
    Choice("noise", "噪声", "Noise"),
    Choice("dust", "扬尘", "Dust"),
    Choice("both", "扬尘与噪声", "Dust and noise"),
)
PLACEMENTS = (
    Choice("boundary", "厂界（工地边界）", "Site boundary"),
    Choice("facade", "敏感建筑外", "Building facade"),
    Choice("indoor", "室内（限值减 10 dB）", "Indoors (limits 10 dB lower)"),
)
CRC_MODES = (
    Choice("hj212", "HJ 212 附录 A", "HJ 212 Appendix A"),
    Choice("modbus", "Modbus CRC-16", "Modbus CRC-16"),
)
DUST_UNITS = (Choice("ug/m3", "微克/立方米", "ug/m3"), Choice("mg/m3", "毫克/立方米", "mg/m3"))

LAYER = Layer(
    id="monitors",
    title_zh="监测设备",
    title_en="Monitors",
    description="Noise and dust monitors at construction sites, reporting over HJ 212-2017.",
    table="monitors",
    geometry_types=("Point",),
    feature_id="mn",
    natural_key=("mn",),
    fields=(
        Field(
            "mn",
            "设备编号（MN）",
            "Device number (MN)",
            required=True,
            aliases=("设备编号", "MN"),
            sql=String(24),
            pattern=CODE,
        ),
        Field("site", "所属工地", "Site", required=True, aliases=("所属工地", "工地编号")),
        Field("name", "名称", "Name", aliases=("名称", "设备名称")),
        Field(
            "st",
            "系统编码（ST）",
            "System code (ST)",
            choices=SYSTEM_CODES,
            aliases=("系统编码", "ST"),
            sql=String(2),
            default="'39'",
        ),
        Field(
            "kind",
            "监测类型",
            "Kind",
            choices=MONITOR_KINDS,
            aliases=("监测类型",),
            sql=String(8),
            default="'both'",
        ),
        Field(
            "placement",
            "安装位置",
            "Placement",
            choices=PLACEMENTS,
            aliases=("安装位置",),
            sql=String(16),
            default="'boundary'",
        ),
        Field("faces", "面向楼栋", "Faces building", aliases=("面向楼栋",)),
        Field(
            "password",
            "访问密码（PW）",
            "Password (PW)",
            required=True,
            secret=True,
            aliases=("访问密码", "PW"),
            sql=String(32),
        ),
        Field(
            "crc_mode",
            "校验方式",
            "Checksum",
            choices=CRC_MODES,
            aliases=("校验方式",),
            sql=String(8),
            default="'hj212'",
        ),
        Field(
            "units",
            "颗粒物单位",
            "Particulate unit",
            choices=DUST_UNITS,
            aliases=("颗粒物单位",),
            sql=String(8),
            default="'ug/m3'",
        ),
        Field(
            "interval_s",
            "上报间隔（秒）",
            "Reporting interval (s)",
            kind="int",
            aliases=("上报间隔",),
            sql=Integer(),
            default="60",
            between=(1, 86400),
        ),
    ),
    references=(
        Reference("site", "sites", "code", "site_id", on_delete="CASCADE"),
        Reference("faces", "buildings", "address", "faces_building_id", required=False),
    ),
    # The latest values, for a GIS client's map of what the monitors say now (minute data's
    # LAeq or the real-time LA; particulates in ug/m3 as stored); null after a day of silence.
    latest=(
        Latest(
            Field("latest_laeq", "最新噪声", "Latest noise", kind="float", unit="dB(A)"),
            ("Leq", "LA"),
        ),
        Latest(
            Field("latest_pm10", "最新 PM10", "Latest PM10", kind="float", unit="µg/m³"),
            ("a34002",),
        ),
        Latest(
            Field("latest_pm25", "最新 PM2.5", "Latest PM2.5", kind="float", unit="µg/m³"),
            ("a34004",),
        ),
        Latest(
            Field("latest_tsp", "最新 TSP", "Latest TSP", kind="float", unit="µg/m³"),
            ("a34001",),
        ),
    ),
    popup_fields=("mn", "name", "site", "kind", "placement", "faces"),
    # By the monitor's state (geo_service.monitoring.states): the maps' markers and legend.
    style={
        "color": "#9467bd",
        "radius": 6,
        "state_colors": {"normal": "#2ca02c", "exceeding": "#d62728", "offline": "#7f7f7f"},
    },
)
