"""Words on the maps, in Chinese and English; layer and field names come from ``layers``."""

from __future__ import annotations

_TEXT: dict[str, tuple[str, str]] = {
    "overview": ("工地影响总览", "Site impact overview"),
    "site_map": ("工地影响范围", "Site impact"),
    "community_map": ("社区受影响情况", "Community exposure"),
    "group_planning": ("规划", "Planning"),
    "group_sites": ("工地与影响", "Sites and impact"),
    "group_people": ("居住", "Where people live"),
    "legend_land_use": ("用地性质（GB 50137）", "Land use (GB 50137)"),
    "legend_status": ("工地状态", "Site status"),
    "legend_kind": ("工地类型", "Site kind"),
    "legend_bands": ("影响圈层", "Impact bands"),
    "legend_noise": ("噪声达标线", "Noise-limit contours"),
    "legend_exposure": ("住户超标程度", "Households: exceedance"),
    "legend_buildings": ("楼栋", "Buildings"),
    "legend_default_bands": ("影响圈层（默认距离）", "Impact bands (default distances)"),
    "legend": ("图例", "Legend"),
    "layer_switcher": ("图层", "Layers"),
    "print_summary": ("受影响住户汇总", "Affected households"),
    "print_band": ("圈层", "Band"),
    "print_households": ("住户", "Households"),
    "print_residents": ("常住人数", "Residents"),
    "print_vulnerable_households": ("重点关注户", "Vulnerable households"),
    "print_exceeding_day": ("昼间超标户", "Over the day limit"),
    "print_exceeding_night": ("夜间超标户", "Over the night limit"),
    "print_total": ("合计", "Total"),
    "print_note": (
        "重点关注户按隐私规则做扰动处理，少于 5 户记为“<5”。",
        "Vulnerable households are perturbed under the privacy rules; fewer than 5 show as <5.",
    ),
    "print_date": ("打印日期：", "Printed: "),
    "building_affected": ("有受影响住户", "With affected households"),
    "building_unaffected": ("无受影响住户", "No affected households"),
    "cursor": ("鼠标位置 WGS84 经度，纬度：", "Pointer WGS84 lon, lat: "),
    "cursor_separator": ("，", ", "),
    "cursor_outside": ("鼠标不在地图上", "Pointer off the map"),
    "search_placeholder": (
        "搜索地块编码、工地、社区、楼栋地址",
        "Search parcel code, site, community, address",
    ),
    "no_results": ("没有找到", "Nothing found"),
    "layer": ("图层", "Layer"),
    "detail": ("说明", "Detail"),
    "minimap_hide": ("隐藏鹰眼图", "Hide overview"),
    "minimap_show": ("显示鹰眼图", "Show overview"),
    "affected_households": ("受影响住户", "Affected households"),
    "affected": ("受影响住户", "Affected households"),
    "residents": ("常住人数", "Residents"),
    "export_households": ("下载住户清单（Excel）", "Download household list (Excel)"),
    "open_site_map": ("打开工地地图", "Open site map"),
    "open_community_map": ("打开社区地图", "Open community map"),
    "home": ("首页", "Home"),
    "site_households": ("受影响住户", "Affected households"),
    "households_tiles": ("住户（低缩放级别为聚合）", "Households (aggregated when zoomed out)"),
    "band": ("圈层", "band"),
    "no_exceedance": ("不超标", "Within limits"),
    "exceed_0_5": ("超标 0–5 dB", "0–5 dB over"),
    "exceed_5_10": ("超标 5–10 dB", "5–10 dB over"),
    "exceed_10": ("超标 10 dB 以上", "Over 10 dB"),
    "max_exceed": ("最大超标 dB", "Max exceedance dB"),
    "count": ("住户数", "Households"),
    "legend_monitor_state": ("监测设备状态", "Monitors: state"),
    "monitor_state": ("状态", "State"),
    "open_monitor_page": ("查看监测数据", "Open monitor page"),
}


def text(key: str, lang: str) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en


def all_text(lang: str) -> dict[str, str]:
    labels = {key: (zh if lang == "zh" else en) for key, (zh, en) in _TEXT.items()}
    from layers import COLLECTIONS

    labels.update({lid: layer.title(lang) for lid, layer in COLLECTIONS.items()})
    return labels


def choices(lang: str) -> dict[str, dict[str, str]]:
    """How the popups write coded values and booleans, by field name, from the layers'
    declarations of their public fields (a site's and a zone's ``kind`` share the name)."""
    from geo_service.display import YES_NO
    from layers import COLLECTIONS

    i = 0 if lang == "zh" else 1
    out: dict[str, dict[str, str]] = {}
    for layer in COLLECTIONS.values():
        for field in layer.public_fields:
            if field.choices:
                out.setdefault(field.name, {}).update({c: c.label(lang) for c in field.choices})
            elif field.kind == "bool":
                out[field.name] = {str(b).lower(): words[i] for b, words in YES_NO.items()}
    return out


def monitor_states(lang: str) -> dict[str, str]:
    """A monitor's states as the popups and legend write them."""
    from geo_service.monitoring.states import LABELS

    return {state: zh if lang == "zh" else en for state, (zh, en) in LABELS.items()}
