"""Chinese names spelt in pinyin, so the search box finds 华丰 from "huafeng" or "hf".

A searchable layer's keys (``layers.base.Search``) are spelt when their rows are written,
into the table's ``SEARCH_COLUMN``: by every import (``spelt_column``, COPYed with the
rows; ``write_spellings`` reads back what an upsert kept), and by migration 0014 for the
rows stored before it (``write_spellings``): each key with Chinese characters as its full
pinyin without tones and as its initials, ASCII letters and digits kept, anything else
dropped. 华丰新村3幢 is stored as ``huafengxincun3zhuang hfxc3z``; a query is compared
with those words after ``query_key`` (lower case, letters and digits only: "Hua Feng" is
``huafeng``). Keys without Chinese characters are matched as they are and spelt nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from pypinyin import lazy_pinyin, load_single_dict
from sqlalchemy import Connection, text

from layers.base import SEARCH_COLUMN

if TYPE_CHECKING:
    import pandas as pd

# Characters whose reading in names and addresses is not pypinyin's first choice: 幢 is the
# measure word of buildings (zhuàng), not the banner (chuáng).
load_single_dict({ord("幢"): "zhuàng,chuáng"})

# Runs of Chinese characters (CJK unified ideographs with extension A, and the
# compatibility block), and of ASCII letters and digits; the rest is punctuation.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ASCII = re.compile(r"[a-z0-9]+")
# Rows read and written at a time: a city's 25,000 buildings are five round trips.
BATCH_ROWS = 5000


@lru_cache(maxsize=4096)
def _han_run(run: str) -> tuple[str, str]:
    """One run of Chinese characters as (full pinyin, initials). Cached: the addresses of a
    city repeat their district, street and community in every building's address."""
    syllables = [s for s in lazy_pinyin(run) if _ASCII.fullmatch(s)]  # unknown: left out
    return "".join(syllables), "".join(s[0] for s in syllables)


def spellings(value: str) -> tuple[str, str] | None:
    """A name's full pinyin and its initials (``华丰新村3幢``: ``huafengxincun3zhuang``,
    ``hfxc3z``), or None for a name without Chinese characters."""
    value = unicodedata.normalize("NFKC", value)  # full-width ３ is 3
    if not _HAN.search(value):
        return None
    full, initials = [], []
    position = 0
    for match in _HAN.finditer(value):
        other = "".join(_ASCII.findall(value[position : match.start()].lower()))
        spelt, first = _han_run(match.group())
        full += [other, spelt]
        initials += [other, first]
        position = match.end()
    rest = "".join(_ASCII.findall(value[position:].lower()))
    return "".join(full) + rest, "".join(initials) + rest


def search_text(keys: Iterable[str | None]) -> str | None:
    """What ``SEARCH_COLUMN`` holds for a row with these key values: their spellings as
    words separated by spaces, each once, or None when no key has Chinese characters."""
    words: list[str] = []
    for key in keys:
        spelt = spellings(key) if isinstance(key, str) else None
        words += [w for w in spelt or () if w and w not in words]
    return " ".join(words) or None


def spelt_column(frame: pd.DataFrame, keys: Sequence[str]) -> list[str | None]:
    """``search_text`` of every row of an imported frame (a key it lacks is empty)."""
    columns = [frame[k] if k in frame.columns else [None] * len(frame) for k in keys]
    return [search_text(values) for values in zip(*columns, strict=True)]


def query_key(q: str) -> str | None:
    """A query as it is compared with the spellings ("Hua Feng" -> ``huafeng``), or None
    for one that is not Latin letters and digits (Chinese is matched as it is typed)."""
    q = unicodedata.normalize("NFKC", q)
    if _HAN.search(q):
        return None
    return "".join(_ASCII.findall(q.lower())) or None


def write_spellings(
    conn: Connection, table: str, keys: Sequence[str], where: str = "TRUE", **params: object
) -> int:
    """Spell the ``keys`` (columns) of the rows of ``table`` that ``where`` selects (SQL
    over the table as ``m``, with ``params``) into ``SEARCH_COLUMN``, ``BATCH_ROWS`` at a
    time; returns the rows changed. The writer of every import calls it on the rows it
    wrote, migration 0014 on every stored row."""
    columns = ", ".join(f"m.{k}" for k in keys)
    select = text(
        f"SELECT m.id, m.{SEARCH_COLUMN}, {columns} FROM {table} m "
        f"WHERE ({where}) AND m.id > :after ORDER BY m.id LIMIT :batch"
    )
    update = text(
        f"UPDATE {table} m SET {SEARCH_COLUMN} = v.spelt "
        "FROM unnest(CAST(:ids AS bigint[]), CAST(:spelt AS text[])) AS v(id, spelt) "
        "WHERE m.id = v.id"
    )
    changed, after = 0, 0
    while rows := conn.execute(select, {**params, "after": after, "batch": BATCH_ROWS}).all():
        new = [(row[0], search_text(row[2:])) for row in rows]
        new = [(i, s) for (i, s), row in zip(new, rows, strict=True) if s != row[1]]
        if new:
            conn.execute(update, {"ids": [i for i, _ in new], "spelt": [s for _, s in new]})
        changed += len(new)
        after = rows[-1][0]
    return changed
