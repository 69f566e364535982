"""Failures name their real cause: an Excel 95 (BIFF5) workbook is read (it failed with "Not
a valid XLSX file"), a password-protected one and an encrypted Outlook message say they are
encrypted (the message failed with "no text could be extracted"). No installed tool writes
these formats, so the fixtures are built here with a compound-file writer (ole_writer)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from documind.errors import EncryptedFile
from documind_ingest.extraction import Extraction, extract
from documind_ingest.validation import validate_file
from tests.ole_writer import OUTLOOK_MSG_CLSID, write_cfb

SENTENCE = "The glaciers retreated twelve metres this year"
FILEPASS = 0x002F


def run(path: Path, source_name: str) -> tuple[str, Extraction]:
    stored = path.with_name("stored")  # the store keeps no extension
    shutil.copy(path, stored)
    v = validate_file(stored, max_bytes=100 * 1024 * 1024, source_name=source_name)
    return v.kind, extract(stored, v.kind, ocr_languages="eng", min_chars_per_page=20,
                           source_name=source_name, mime_type=v.mime_type, encoding=v.encoding)


# ---- Excel 95 ------------------------------------------------------------------------------
def _record(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(substream: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHH", 0x0500, substream, 0x0DBB, 0x07CC))  # BIFF5


def excel95_workbook(path: Path, rows: list[list[str]], *, password_protected: bool = False) -> Path:
    """A BIFF5 workbook: globals (fonts, cell formats, one sheet) and a sheet of text cells,
    in the ``Book`` stream where BIFF8 has ``Workbook``."""
    sheet = _bof(0x0010) + _record(0x0200, struct.pack("<HHHHH", 0, len(rows), 0, max(map(len, rows)), 0))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            raw = text.encode("cp1252")
            sheet += _record(0x0204, struct.pack("<HHHH", r, c, 15, len(raw)) + raw)  # LABEL
    sheet += _record(0x000A)
    font = _record(0x0031, struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + b"\x05Arial")
    style_xf = _record(0x00E0, struct.pack("<HHHHHHHH", 0, 0, 0xFFF5, 0x20, 0, 0, 0, 0))
    cell_xf = _record(0x00E0, struct.pack("<HHHHHHHH", 0, 0, 0x0001, 0x20, 0, 0, 0, 0))
    head = _bof(0x0005) + (_record(FILEPASS, os.urandom(4)) if password_protected else b"")
    head += _record(0x0042, struct.pack("<H", 1252)) + font * 5 + style_xf * 15 + cell_xf
    name = b"Survey"
    sheet_at = len(head) + 4 + 7 + len(name) + 4  # after BOUNDSHEET and the globals' EOF
    book = head + _record(0x0085, struct.pack("<IBBB", sheet_at, 0, 0, len(name)) + name) + _record(0x000A) + sheet
    return write_cfb(path, {"Book": book})


def test_excel95_workbook_is_read(tmp_path: Path) -> None:
    import xlrd

    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed: Excel 95 workbooks are read through it")
    path = excel95_workbook(tmp_path / "survey.xls", [["Region", "Note"], ["North", SENTENCE]])
    assert xlrd.open_workbook(str(path)).biff_version == 70  # the fixture really is Excel 95 (BIFF7/5)
    kind, e = run(path, "survey.xls")
    assert kind == "xls"
    assert SENTENCE in " ".join(x.text for x in e.elements)


def test_password_protected_excel95_workbook_says_so(tmp_path: Path) -> None:
    path = excel95_workbook(tmp_path / "locked.xls", [["Note"], [SENTENCE]], password_protected=True)
    with pytest.raises(EncryptedFile, match="xls file is password protected"):
        run(path, "locked.xls")


# ---- encrypted Outlook message ---------------------------------------------------------------
def encrypted_msg(made_corpus, path: Path, message_class: str = "IPM.Note.SMIME") -> Path:  # noqa: ANN001
    """The generated message as Outlook stores an S/MIME-encrypted one: its class, no body, and
    the content as an opaque ``smime.p7m`` attachment (a CMS envelope)."""
    import olefile

    with olefile.OleFileIO(str(made_corpus / "outlook.msg")) as src:
        streams = {"/".join(e): src.openstream(e).read() for e in src.listdir(streams=True, storages=False)}
    utf16 = lambda s: s.encode("utf-16-le")  # noqa: E731
    attach = "__attach_version1.0_#00000000/__substg1.0_"
    streams["__substg1.0_001A001F"] = utf16(message_class)
    for body in ("1000001F", "10090102", "10130102"):  # text, RTF and HTML bodies
        streams[f"__substg1.0_{body}"] = b""
    streams.update({
        attach + "3001001F": utf16("smime.p7m"), attach + "3707001F": utf16("smime.p7m"),
        attach + "3704001F": utf16("smime.p7m"), attach + "3703001F": utf16(".p7m"),
        attach + "370E001F": utf16("application/pkcs7-mime"),
        attach + "37010102": b"\x30\x82\x01\x04" + os.urandom(260),
    })
    return write_cfb(path, streams, root_clsid=OUTLOOK_MSG_CLSID)


@pytest.mark.parametrize("message_class", ["IPM.Note.SMIME", "IPM.Note"])  # IPM.Note: a mislabelled one
def test_encrypted_outlook_message_says_it_is_encrypted(made_corpus, tmp_path: Path, message_class: str) -> None:  # noqa: ANN001
    path = encrypted_msg(made_corpus, tmp_path / "secret.msg", message_class)
    with pytest.raises(EncryptedFile, match=r"Outlook message is encrypted \(S/MIME\)"):
        run(path, "secret.msg")
