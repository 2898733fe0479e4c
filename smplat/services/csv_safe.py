"""CSV that a spreadsheet cannot execute: every export goes through `write_csv`.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (`=HYPERLINK(…)`, `=cmd|…`). Such a cell is
written with a leading apostrophe, which spreadsheets show as plain text (OWASP's advice).
`restore_cell` undoes exactly that on import, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """The value as a spreadsheet will show it, never run it; non-strings are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def restore_cell(value: Any) -> Any:
    """Undo `neutralise_cell` (only an apostrophe in front of a trigger is removed)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def write_csv(rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> str:
    """A header line and one line per row, every cell neutralised. Lines end in CRLF (RFC 4180),
    which also makes the writer quote a cell holding a bare carriage return."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fieldnames), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: neutralise_cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()
