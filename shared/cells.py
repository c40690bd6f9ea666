"""Text that goes into a spreadsheet cell: never read back as a formula.

A free-text field (a guard's reason, an owner's name) that starts with ``=``, ``+``, ``-`` or
``@`` (or a tab or carriage return) is run as a formula by Excel and LibreOffice when a CSV
export is opened. Such text is prefixed with an apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """*value*, with text that a spreadsheet would run as a formula made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
