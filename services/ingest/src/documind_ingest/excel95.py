"""Excel 5.0/95 (BIFF5) workbooks. unstructured's xls path refuses them with "Not a valid
XLSX file" (its encryption check knows only BIFF8's ``Workbook`` stream; BIFF5 keeps its
records in a ``Book`` stream), so LibreOffice converts them to xlsx first."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from documind.errors import EncryptedFile

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONVERT_TIMEOUT_S = 300
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
def biff5_as_xlsx(path: Path) -> Iterator[Path]:
    """The workbook converted to a temporary xlsx (EncryptedFile if password protected)."""
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        if _password_protected(ole.openstream("Book").read()):
            raise EncryptedFile("xls file is password protected")
    with tempfile.TemporaryDirectory(prefix="documind-xls-") as tmp:
        source = Path(tmp) / "book.xls"  # stored copies have no extension
        shutil.copyfile(path, source)
        # A profile of its own: LibreOffice runs sharing one profile clash.
        command = ["soffice", f"-env:UserInstallation=file://{tmp}/profile", "--headless",
                   "--convert-to", "xlsx", "--outdir", tmp, str(source)]
        try:
            subprocess.run(command, capture_output=True, timeout=CONVERT_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"LibreOffice did not convert this Excel 95 workbook within {CONVERT_TIMEOUT_S} s") from None
        converted = source.with_suffix(".xlsx")
        if not converted.is_file():
            raise RuntimeError("LibreOffice could not convert this Excel 95 workbook")
        yield converted
