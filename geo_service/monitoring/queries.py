"""The monitoring statements in ``sql/``, read once. A line ``-- include: NAME`` stands for
the file ``NAME.sql``: the noise rule and the night-work rule make their windows of
minute data with the same SQL (``noise_minutes.sql``), written once."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources


@cache
def sql(name: str) -> str:
    body = resources.files("geo_service.monitoring").joinpath(f"sql/{name}.sql").read_text("utf-8")
    return re.sub(r"^-- include: (\w+)$", lambda m: sql(m.group(1)), body, flags=re.MULTILINE)
