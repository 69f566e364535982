"""Upload validation: the real type from the content, size limit, empty and encrypted files.

Everything here raises a ``PermanentError`` subclass whose message is shown to the person who
uploaded the file; nothing here is worth retrying."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from documind.errors import (
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    FileTooLarge,
    UnsupportedFileType,
)

# unstructured FileType name -> our kind. Anything else is refused as unsupported.
SUPPORTED_KINDS = {
    "PDF": "pdf", "DOCX": "docx", "DOC": "doc", "PPTX": "pptx", "PPT": "ppt",
    "XLSX": "xlsx", "XLS": "xls", "CSV": "csv", "TSV": "tsv", "HTML": "html", "XML": "xml",
    "MD": "md", "RST": "rst", "TXT": "txt", "EML": "eml", "MSG": "msg", "EPUB": "epub",
    "ODT": "odt", "RTF": "rtf", "PNG": "png", "JPG": "jpg", "TIFF": "tiff", "BMP": "bmp",
    "HEIC": "heic",
}
ZIP_KINDS = {"docx", "pptx", "xlsx", "epub", "odt"}
IMAGE_KINDS = {"png", "jpg", "tiff", "bmp", "heic"}
# Kinds that unstructured may infer from the extension alone: the content must be text to
# libmagic too (any character encoding), or a program renamed to notes.txt would be
# "extracted". The MIME type is no guide here: libmagic calls some plain prose
# "message/news" or "application/vnd.hp-HPGL".
TEXT_KINDS = {"txt", "md", "rst", "csv", "tsv", "html", "xml", "eml"}


@dataclass(frozen=True)
class Validated:
    kind: str  # one of SUPPORTED_KINDS' values
    mime_type: str


def _human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def validate_file(path: Path, *, max_bytes: int) -> Validated:
    size = path.stat().st_size
    if size == 0:
        raise EmptyFile("file is empty")
    if size > max_bytes:
        raise FileTooLarge(f"file is too large: {_human_size(size)} (limit {_human_size(max_bytes)})")

    import magic
    from unstructured.file_utils.filetype import detect_filetype

    mime = magic.from_file(str(path), mime=True)
    encoding = magic.Magic(mime_encoding=True).from_file(str(path))
    if mime == "application/encrypted":
        # libmagic's verdict for CDFV2-encrypted Office files (password-protected xlsx/docx).
        raise EncryptedFile("Office document is password protected")
    try:
        detected = detect_filetype(file_path=str(path))
    except Exception as exc:  # noqa: BLE001 - detection failing means we cannot read it
        raise CorruptFile(f"could not determine the file type: {exc}") from None
    kind = SUPPORTED_KINDS.get(getattr(detected, "name", ""))
    if kind is None or (kind in TEXT_KINDS and encoding == "binary"):
        raise UnsupportedFileType(f"unsupported type: {mime}")
    if kind in ZIP_KINDS and not zipfile.is_zipfile(path):
        raise CorruptFile(f"{kind} file is truncated or corrupt (not a valid zip container)")
    if kind == "pdf":
        check_pdf(path)
    return Validated(kind=kind, mime_type=detected.mime_type if hasattr(detected, "mime_type") else mime)


def check_pdf(path: Path) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            # An owner-password-only PDF opens with the empty user password: readable.
            if not reader.decrypt(""):
                raise EncryptedFile("PDF is password protected")
        if len(reader.pages) == 0:
            raise CorruptFile("PDF has no pages")
    except EncryptedFile:
        raise
    except CorruptFile:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise CorruptFile(f"PDF is corrupt: {exc}") from None
