"""The roll call as text: JSON, or CSV that a spreadsheet opens safely, a page at a time.

CSV (docs/protocol.md): UTF-8, a header row, the columns in COLUMNS' order, RFC 4180 quoting
(Python's csv module: quotes around a field with a comma, a quote or a line break, a quote
doubled, CRLF between records). A field that a spreadsheet would take for a formula (starting
with =, +, -, @, a tab or a carriage return) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from rollcall.attendance.schemas import COLUMNS, Attendance, AttendanceEntry
from rollcall.attendance.service import Roll

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


def spreadsheet_safe(text: str) -> str:
    """The text a spreadsheet shows as text, never runs: `'` before a formula's first sign."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cells(item: AttendanceEntry) -> list[str]:
    """The entry's fields as its JSON gives them (times in the same ISO 8601), null empty."""
    shown = item.model_dump(mode="json")
    return ["" if shown[c] is None else spreadsheet_safe(str(shown[c])) for c in COLUMNS]


async def as_csv(pages: AsyncIterator[list[AttendanceEntry]]) -> AsyncIterator[str]:
    """The header row, then one chunk of records per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    async for page in pages:
        for item in page:
            writer.writerow(_cells(item))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


async def as_json(roll: Roll, pages: AsyncIterator[list[AttendanceEntry]]) -> AsyncIterator[str]:
    """The Attendance document, its entries written a page at a time."""
    empty = Attendance(event=roll.event, generated_at=roll.generated_at, participants=[])
    head = empty.model_dump_json()
    assert head.endswith("[]}")
    yield head[:-2]
    first = True
    async for page in pages:
        if page:
            entries = ",".join(item.model_dump_json() for item in page)
            yield entries if first else "," + entries
            first = False
    yield "]}"


def render(fmt: str, roll: Roll, pages: AsyncIterator[list[AttendanceEntry]]) -> AsyncIterator[str]:
    return as_csv(pages) if fmt == "csv" else as_json(roll, pages)
