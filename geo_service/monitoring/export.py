"""A monitor's readings (raw or rolled up) as a CSV or Excel file, for the builder's records
and the regulator's questions.

The cells come from devices (a factor code is whatever a packet said), so every text cell
is made safe for spreadsheets (``formats.spreadsheet_frame``); times are local, in the
devices' zone, as the people who read the file live by them.
"""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from geo_service.formats import spreadsheet_frame
from geo_service.impact_export import ready_to_print

# Column headers, Chinese first as on the pages.
HEADERS = {
    "at": ("时间", "Time"),
    "cn": ("命令", "Command"),
    "factor": ("因子", "Factor"),
    "statistic": ("统计", "Statistic"),
    "value": ("数值", "Value"),
    "flag": ("标记", "Flag"),
    "n": ("有效数", "Valid"),
    "count": ("总数", "Count"),
}


def table(rows: list[dict[str, Any]], zone: str) -> pd.DataFrame:
    """The rows with local times and bilingual headers, safe in a spreadsheet."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["at", "factor", "statistic", "value"])
    frame["at"] = [
        dt.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S") for dt in frame["at"]
    ]
    frame = frame.rename(columns={k: f"{zh} {en}" for k, (zh, en) in HEADERS.items()})
    return spreadsheet_frame(frame)


def csv(frame: pd.DataFrame, _title: str) -> bytes:
    return ("\ufeff" + frame.to_csv(index=False)).encode("utf-8")  # BOM: Excel reads UTF-8


def xlsx(frame: pd.DataFrame, title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit for a sheet name
    sheet.append(list(frame.columns))
    for record in frame.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in record])
    ready_to_print(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


WRITERS = {"csv": csv, "xlsx": xlsx}  # keyed by ``formats.READINGS``' names
