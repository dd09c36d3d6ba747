"""Excel workbooks as bytes that depend only on their content.

openpyxl's ``Workbook.save`` stamps the wall clock into the document properties
and every zip entry; the same workbook must give the same bytes (validation
reports, exported spec workbooks), so entries get one fixed time.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

#: the zip entries' time: the earliest a zip can hold
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def workbook_bytes(book: Any) -> bytes:
    """The .xlsx bytes of an openpyxl ``book``; its ``properties`` times are the caller's."""
    from openpyxl.writer.excel import ExcelWriter

    buffer = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() stamps the wall clock into "modified".
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():  # same entries and order, fixed times
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()
