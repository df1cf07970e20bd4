"""Counts of sensitive attributes (elderly, infant, disabled, night-shift households) shown
to readers who may not see those fields: perturbed by the cell-key method, small cells as
"<5".

Why not plain suppression: a planner chooses a site's bands, so an exact count can be
taken apart by differencing. Two band settings that differ by one household give two exact
counts whose difference is that household's flag, and a total minus the other cells
gives back a suppressed one. Statistical offices publish user-defined tables with the cell-key
method (the ABS TableBuilder, the UK 2021 census), and so does this module:

- every household has a secret record key from 0 to 255, a hash of its id with a key kept in
  the database (``disclosure_key``, made at random by migration 0009);
- a cell's key is the sum of the keys of all its households (flagged or not), modulo 256,
  so the same households always give the same cell key, and a cell that gains or loses any
  household gets an unrelated one (keyed on the flagged ones alone, two cells that differ by
  an unflagged household would show the same value, and a difference would prove a flag);
- the count shown is the true count moved by -4 to +4 (small shifts likelier), chosen by the
  cell key: asking again gives the same answer (no averaging away), and a difference of two
  cells is off by up to 8, so one household's flag cannot be read from it;
- a count shown under 5, or any count of a cell of fewer than 5 households, is written
  "<5". A shown count may exceed the cell's households by up to 4: clamping it there would
  take the noise away exactly where almost every household is flagged (an old people's
  home), and a difference would then give a flag back.

Readers who may read the site's personal fields (its liaison officers, administrators) see
the exact counts. The rule is stated in the README ("Counts of sensitive attributes").
"""

from __future__ import annotations

from typing import Any

THRESHOLD = 5
SMALL = f"<{THRESHOLD}"
# The perturbation chosen by a cell key (modulo 25): -4 to +4, small shifts likelier
# (triangular), so that a difference of two cells is rarely far enough out to prove a flag.
SHIFTS = tuple(shift for shift in range(-4, 5) for _ in range(5 - abs(shift)))
# SQL: the record key (0-255) of household ``h``, from the database's disclosure key ``dk``.
RECORD_KEY = "('x' || left(md5(dk.salt || h.id::text), 2))::bit(8)::int"


# SQL aggregate: the cell key of a group of households ``h``.
CELL_KEY = f"coalesce(sum({RECORD_KEY}), 0) % 256"


def shown(count: int, cell_key: int, households: int) -> int | str:
    """What a reader without the right to the sensitive fields sees for ``count``."""
    value = count + SHIFTS[cell_key % len(SHIFTS)]
    return SMALL if households < THRESHOLD or value < THRESHOLD else value


def protect(record: dict[str, Any], counts: tuple[str, ...], exact: bool) -> dict[str, Any]:
    """Replace the sensitive ``counts`` of an aggregate row by what the reader may see, and
    drop its cell key (``cell_key``)."""
    cell_key = int(record.pop("cell_key"))
    if not exact:
        for count in counts:
            record[count] = shown(int(record[count]), cell_key, int(record["households"]))
    return record
