"""Excel 5.0/95 (BIFF5) workbooks. unstructured's xls path refuses them with "Not a valid
XLSX file" (its encryption check knows only BIFF8's ``Workbook`` stream; BIFF5 keeps its
records in a ``Book`` stream), so LibreOffice converts them to xlsx first."""

from __future__ import annotations

import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from documind.errors import EncryptedFile

from documind_ingest.conversions import libreoffice_convert

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FILEPASS, _EOF = 0x002F, 0x000A


def is_biff5(path: Path) -> bool:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            return ole.exists("Book") and not ole.exists("Workbook")
    except Exception:  # noqa: BLE001 - not an OLE file: not BIFF5 either
        return False


def _password_protected(book: bytes) -> bool:
    """A FILEPASS record among the workbook globals (before their EOF) means encrypted."""
    pos = 0
    while pos + 4 <= len(book):
        kind, size = struct.unpack_from("<HH", book, pos)
        if kind == _FILEPASS:
            return True
        if kind == _EOF:
            return False
        pos += 4 + size
    return False


@contextmanager
def biff5_as_xlsx(path: Path, *, timeout_s: float) -> Iterator[Path]:
    """The workbook converted to a temporary xlsx (EncryptedFile if password protected)."""
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        if _password_protected(ole.openstream("Book").read()):
            raise EncryptedFile("xls file is password protected")
    with tempfile.TemporaryDirectory(prefix="documind-xls-") as tmp:
        # A bounded child with a profile of its own, as every LibreOffice run (conversions).
        yield libreoffice_convert(path, "xls", Path(tmp), timeout_s=timeout_s)
