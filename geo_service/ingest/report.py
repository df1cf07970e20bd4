"""What an import did, as the CLI prints it and the API answers it.

Only the report belongs here, so the checks and the writer can fill it in without
depending on the pipeline that creates it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field

from geo_service.errors import RowProblem
from geo_service.formats import spreadsheet_text


@dataclass(frozen=True)
class SkippedRow:
    """One problem of a row ``--on-invalid skip`` left out; ``key`` is its natural key."""

    row: int
    key: str | None
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did; ``repaired`` lists geometries that were fixed, by row."""

    layer: str
    mode: str
    source: str
    rows: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    # Rows merged into another part of their feature (``merge_parts``).
    merged: int = 0
    repaired: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # Every problem of every row left out with ``on_invalid="skip"`` (several per row maybe).
    skipped: list[SkippedRow] = field(default_factory=list)
    # Columns the file did not have, and the value every row took (a unit: 整栋).
    filled_columns: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"{self.layer}: {self.rows} row(s) from {self.source} ({self.mode}): "
            f"{self.inserted} inserted, {self.updated} updated, {self.deleted} deleted "
            f"in {self.seconds:.1f} s"
        ]
        if self.skipped:
            lines.append(
                f"{self.skipped_rows} row(s) skipped, with {len(self.skipped)} problem(s):"
            )
            lines += [f"  row {p.row}: {p.field}: {p.message}" for p in self.skipped[:20]]
            if len(self.skipped) > 20:
                lines.append(f"  ... and {len(self.skipped) - 20} more in the report")
        if self.merged:
            lines.append(f"{self.merged} row(s) merged into another part of their feature")
        if self.repaired:
            lines.append(f"{len(self.repaired)} invalid geometr(y/ies) repaired:")
            lines += [f"  {p}" for p in self.repaired[:20]]
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        for name, value in self.filled_columns.items():
            lines.append(f"no {name} column: every row took {value!r}")
        return "\n".join(lines)

    @property
    def skipped_rows(self) -> int:
        return len({p.row for p in self.skipped})

    def skipped_csv(self) -> str:
        """The skipped rows as CSV (row, key, field, message), as a spreadsheet opens it."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["row", "key", "field", "message"])
        for p in self.skipped:
            writer.writerow(
                [p.row, spreadsheet_text(p.key or ""), p.field, spreadsheet_text(p.message)]
            )
        return out.getvalue()

    def as_dict(self) -> dict:
        return {
            "layer": self.layer,
            "mode": self.mode,
            "source": self.source,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "merged": self.merged,
            "repaired": [p.__dict__ for p in self.repaired],
            "skipped_rows": self.skipped_rows,
            "skipped": [asdict(p) for p in self.skipped],
            "ignored_columns": self.ignored_columns,
            "filled_columns": self.filled_columns,
            "seconds": round(self.seconds, 3),
        }
