"""Upload validation: the real type from the content, size limit, zip bombs, empty, truncated
and encrypted files.

Everything here raises a ``PermanentError`` subclass whose message is shown to the person who
uploaded the file; nothing here is worth retrying."""

from __future__ import annotations

import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from documind.errors import (
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    FileTooLarge,
    UnsafeArchive,
    UnsupportedFileType,
)

from documind_ingest.budgets import Budgets, check_image, check_pages, check_text_size

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
NAMED_PROSE_KINDS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".rst": "rst"}
# Programs and libraries, whatever the upload was called: the name hint must never turn a
# Windows/ELF/Mach-O binary into "report.pdf".
PROGRAM_MIMES = {
    "application/x-dosexec", "application/x-msdownload", "application/vnd.microsoft.portable-executable",
    "application/x-executable", "application/x-pie-executable", "application/x-sharedlib",
    "application/x-mach-binary", "application/x-object", "application/x-coredump",
}


@dataclass(frozen=True)
class Validated:
    kind: str  # one of SUPPORTED_KINDS' values
    mime_type: str
    # Text kinds only, when not ASCII/UTF-8/BOM-marked: what the bytes decode with.
    encoding: str | None = None


@dataclass(frozen=True)
class ZipLimits:
    """Checked from the zip's central directory before anything is decompressed."""

    max_uncompressed_bytes: int = 512 * 1024 * 1024
    max_ratio: float = 100.0


# libmagic handles are not thread-safe, and building one loads the magic database (~ms):
# one pair per thread, reused for every file that thread validates.
_local = threading.local()


def _magic() -> tuple[Any, Any]:
    pair = getattr(_local, "magic", None)
    if pair is None:
        import magic

        pair = (magic.Magic(mime=True), magic.Magic(mime_encoding=True))
        _local.magic = pair
    return pair


def _human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def validate_file(
    path: Path, *, max_bytes: int, source_name: str | None = None, zip_limits: ZipLimits = ZipLimits(),
    budgets: Budgets = Budgets(),
) -> Validated:
    """``source_name`` is the uploader's file name: stored copies have no extension, and the
    name is the only hint that tells e.g. an e-mail from plain text or Markdown from HTML."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyFile("file is empty")
    if size > max_bytes:
        raise FileTooLarge(f"file is too large: {_human_size(size)} (limit {_human_size(max_bytes)})")

    from unstructured.file_utils.filetype import detect_filetype
    from unstructured.file_utils.model import FileType

    mime_magic, encoding_magic = _magic()
    mime = mime_magic.from_file(str(path))
    encoding = encoding_magic.from_file(str(path))
    if mime == "application/encrypted":
        # libmagic's verdict for CDFV2-encrypted Office files (password-protected xlsx/docx).
        raise EncryptedFile("Office document is password protected")
    if mime in PROGRAM_MIMES:
        raise UnsupportedFileType(f"unsupported type: {mime}")
    try:
        detected = detect_filetype(file_path=str(path), metadata_file_path=source_name)
    except Exception as exc:  # noqa: BLE001 - detection failing means we cannot read it
        raise CorruptFile(f"could not determine the file type: {exc}") from None
    kind = SUPPORTED_KINDS.get(getattr(detected, "name", ""))
    if kind in ("csv", "tsv") and source_name:
        # unstructured calls any plain text with a comma on every line CSV; prose the uploader
        # named notes.txt is prose (a real CSV named .txt would still read as its text).
        named = NAMED_PROSE_KINDS.get(Path(source_name).suffix.lower())
        if named:
            kind, detected = named, FileType[named.upper()]
    text_encoding = None
    if kind in TEXT_KINDS:
        text_encoding = _text_encoding(path, encoding)
        if text_encoding == "binary":
            raise UnsupportedFileType(f"unsupported type: {mime}")
    if kind is None:
        raise UnsupportedFileType(f"unsupported type: {mime}")
    if kind in ZIP_KINDS:
        check_zip(path, kind, zip_limits)
    if kind == "pdf":
        check_pdf(path, budgets)
    if kind in IMAGE_KINDS:
        check_image(path, budgets)
    if kind in TEXT_KINDS and kind != "eml":  # an e-mail's parts are checked one by one (email_parts)
        check_text_size(size, kind, budgets)
    return Validated(kind=kind, mime_type=getattr(detected, "mime_type", None) or mime, encoding=text_encoding)


def _text_encoding(path: Path, magic_encoding: str) -> str | None:
    """None when unstructured reads the text as is (ASCII, UTF-8);
    the codec for other text; "binary" for content that is no text at all."""
    if magic_encoding in ("us-ascii", "utf-8"):
        return None
    if magic_encoding.startswith(("utf-16", "utf-32")):
        return magic_encoding[:6]  # BOM-marked: Python's utf-16/utf-32 codecs read the BOM
    if magic_encoding == "binary":
        return _bomless_unicode(path) or "binary"
    from unstructured.file_utils.encoding import detect_file_encoding

    try:
        return detect_file_encoding(filename=str(path))[0]
    except Exception:  # noqa: BLE001 - undecodable: let the partitioner try and fail clearly
        return None


def _bomless_unicode(path: Path) -> str | None:
    """UTF-16/32 without a byte-order mark is "binary" to libmagic. Accept it when it decodes
    strictly to printable text that is at least 30% ASCII letters, digits and spaces, which
    random bytes (programs, archives) decoded as UTF-16 never are."""
    with path.open("rb") as fh:
        data = fh.read(65536)
    for codec, unit in (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2)):
        try:
            text = data[: len(data) - len(data) % unit].decode(codec)
        except UnicodeDecodeError:
            continue
        if not text or "\x00" in text:
            continue
        printable = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
        ascii_like = sum(1 for c in text if c.isascii() and (c.isalnum() or c.isspace()))
        if printable / len(text) >= 0.95 and ascii_like / len(text) >= 0.3:
            return codec
    return None


def check_zip(path: Path, kind: str, limits: ZipLimits) -> None:
    """Zip-based formats: a readable directory, no encrypted members, and no zip bomb (total
    uncompressed size and compression ratio as declared in the directory)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptFile(f"{kind} file is truncated or corrupt (not a valid zip container: {exc})") from None
    if not infos:
        raise CorruptFile(f"{kind} file is an empty zip container")
    if any(i.flag_bits & 0x1 for i in infos):
        raise EncryptedFile(f"{kind} file is password protected (encrypted zip entries)")
    try:
        epub_drm = kind == "epub" and "META-INF/encryption.xml" in names and _epub_content_encrypted(path)
        odt_locked = kind == "odt" and _odf_encrypted(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        # A member that fails to decompress (bad CRC, bad deflate data: found by fuzzing).
        raise CorruptFile(f"{kind} file is truncated or corrupt ({type(exc).__name__}: {exc})") from None
    if epub_drm:
        raise EncryptedFile("epub file is DRM-protected (its content is encrypted)")
    if odt_locked:
        raise EncryptedFile("odt file is password protected")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise UnsafeArchive(
            f"{kind} file would expand to {_human_size(total)} "
            f"(limit {_human_size(limits.max_uncompressed_bytes)}): refused as a possible zip bomb"
        )
    ratio = total / max(packed, 1)
    if ratio > limits.max_ratio:
        raise UnsafeArchive(
            f"{kind} file has a compression ratio of {ratio:.0f}:1 (limit {limits.max_ratio:.0f}:1): "
            "refused as a possible zip bomb"
        )


def _epub_content_encrypted(path: Path) -> bool:
    # Fonts may be obfuscated (listed in encryption.xml) in DRM-free books; only encrypted
    # text documents make the book unreadable.
    with zipfile.ZipFile(path) as zf:
        text = zf.read("META-INF/encryption.xml")[:1_000_000].decode("utf-8", "replace")
    return any(ext in text for ext in (".xhtml", ".html", ".htm", ".xml\""))


def _odf_encrypted(path: Path) -> bool:
    with zipfile.ZipFile(path) as zf:
        try:
            manifest = zf.read("META-INF/manifest.xml")[:5_000_000]
        except KeyError:
            return False
    return b"encryption-data" in manifest


def check_pdf(path: Path, budgets: Budgets = Budgets()) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            # An owner-password-only PDF opens with the empty user password: readable.
            if not reader.decrypt(""):
                raise EncryptedFile("PDF is password protected")
        pages = len(reader.pages)
        if pages == 0:
            raise CorruptFile("PDF has no pages")
        check_pages(pages, budgets)
    except (EncryptedFile, CorruptFile, FileTooLarge):
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise CorruptFile(f"PDF is corrupt: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - only pypdf runs in the try
        # pypdf fails on hostile structure with any exception type (fuzzing found an object
        # whose body is a bare reference: AttributeError); the file is unreadable.
        raise CorruptFile(f"PDF is corrupt ({type(exc).__name__}: {exc})") from None
