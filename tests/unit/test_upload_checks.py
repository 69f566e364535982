"""Bad uploads refused by validate_file before extraction: zip bombs (built here with
zipfile), truncated and encrypted zip containers, programs under any name, and the type of a
stored copy (no extension) decided with the uploader's file name as the hint."""

from __future__ import annotations

import random
import shutil
import zipfile
from pathlib import Path

import pytest

from documind.errors import CorruptFile, EncryptedFile, UnsafeArchive, UnsupportedFileType
from documind_ingest.validation import ZipLimits, check_zip, validate_file

LIMIT = 100 * 1024 * 1024
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + random.Random(1).randbytes(8192)


def _docx_with(tmp_path: Path, made_corpus, extra: dict[str, bytes], name: str = "bomb.docx") -> Path:
    """A real docx with extra members added (zipfile writes genuine deflate streams)."""
    path = tmp_path / name
    shutil.copy(made_corpus / "tables.docx", path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, data in extra.items():
            zf.writestr(member, data)
    return path


def test_zip_bomb_by_ratio_is_refused_from_the_directory(made_corpus, tmp_path: Path) -> None:
    # 50 MB of zeros deflate to ~50 KB: ratio ~1000:1.
    path = _docx_with(tmp_path, made_corpus, {"word/padding.xml": b"\0" * 50_000_000})
    assert path.stat().st_size < 200_000
    with pytest.raises(UnsafeArchive, match=r"compression ratio of \d+:1 \(limit 100:1\).*zip bomb"):
        validate_file(path, max_bytes=LIMIT)


def test_zip_bomb_by_total_size_is_refused(made_corpus, tmp_path: Path) -> None:
    path = _docx_with(tmp_path, made_corpus, {"word/big.xml": random.Random(2).randbytes(2_000_000)})
    with pytest.raises(UnsafeArchive, match=r"would expand to 2\.\d MB \(limit 2\.0 MB\)"):
        validate_file(path, max_bytes=LIMIT, zip_limits=ZipLimits(max_uncompressed_bytes=2 * 1024 * 1024))
    # The same file under the default limits is fine: random bytes do not compress.
    assert validate_file(path, max_bytes=LIMIT).kind == "docx"


def test_ordinary_office_files_pass_the_zip_checks(made_corpus) -> None:
    for name, kind in [("tables.docx", "docx"), ("slides.pptx", "pptx"), ("segments.xlsx", "xlsx"),
                       ("survey.epub", "epub"), ("survey.odt", "odt")]:
        check_zip(made_corpus / name, kind, ZipLimits())


@pytest.mark.parametrize("cut", [100, 5000])
def test_truncated_zip_container_is_corrupt(made_corpus, tmp_path: Path, cut: int) -> None:
    data = (made_corpus / "survey.odt").read_bytes()
    path = tmp_path / "cut.odt"
    path.write_bytes(data[:cut])  # the central directory is at the end: gone
    with pytest.raises((CorruptFile, UnsupportedFileType)):
        validate_file(path, max_bytes=LIMIT, source_name="cut.odt")
    with pytest.raises(CorruptFile, match="truncated or corrupt"):
        check_zip(path, "odt", ZipLimits())


def test_encrypted_zip_entries_are_password_protected(made_corpus, tmp_path: Path) -> None:
    path = _docx_with(tmp_path, made_corpus, {})
    # Set the "encrypted" flag bit on every entry, as a password-protected zip has it.
    with zipfile.ZipFile(path) as zf:
        offsets = [(i.header_offset, i.filename) for i in zf.infolist()]
    raw = bytearray(path.read_bytes())
    for offset, _ in offsets:
        raw[offset + 6] |= 0x01  # local header general-purpose flags
    cd = raw.find(b"PK\x01\x02")
    while cd != -1:
        raw[cd + 8] |= 0x01  # central directory flags
        cd = raw.find(b"PK\x01\x02", cd + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(EncryptedFile, match="docx file is password protected"):
        validate_file(path, max_bytes=LIMIT)


def test_odt_with_encryption_data_is_password_protected(made_corpus, tmp_path: Path) -> None:
    src = made_corpus / "survey.odt"
    path = tmp_path / "locked.odt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "META-INF/manifest.xml":
                # What LibreOffice writes for a password-protected document's content.
                data = data.replace(
                    b'manifest:full-path="content.xml" />',
                    b'manifest:full-path="content.xml"><manifest:encryption-data '
                    b'manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k"/>'
                    b"</manifest:file-entry>",
                )
                assert b"encryption-data" in data
            zout.writestr(info, data)
    with pytest.raises(EncryptedFile, match="odt file is password protected"):
        validate_file(path, max_bytes=LIMIT)


@pytest.mark.parametrize("name", ["notes.txt", "report.pdf", "no_extension", "slides.pptx"])
def test_program_under_any_name_is_unsupported(tmp_path: Path, name: str) -> None:
    stored = tmp_path / "stored"  # stored copies have no extension; the name is only a hint
    stored.write_bytes(EXECUTABLE)
    with pytest.raises(UnsupportedFileType, match=r"^unsupported type: application/"):
        validate_file(stored, max_bytes=LIMIT, source_name=name)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        # Text formats look alike to libmagic: the file name decides.
        ("legacy-headers.eml", "eml"),
        ("README.rst", "rst"),
        ("codeblock.md", "md"),
        ("cups.tsv", "tsv"),
        # The content wins over a wrong name.
        ("email-saved-as.txt", "eml"),
    ],
)
def test_stored_copy_is_typed_with_the_upload_name(made_corpus, tmp_path: Path, name: str, kind: str) -> None:
    stored = tmp_path / "0f3a9c"  # what the content-addressed store holds: no extension
    shutil.copy(made_corpus / name, stored)
    assert validate_file(stored, max_bytes=LIMIT, source_name=name).kind == kind


def test_docx_named_doc_and_file_without_extension(made_corpus, tmp_path: Path) -> None:
    stored = tmp_path / "blob"
    shutil.copy(made_corpus / "tables.docx", stored)
    assert validate_file(stored, max_bytes=LIMIT, source_name="old-format.doc").kind == "docx"
    assert validate_file(stored, max_bytes=LIMIT, source_name="no_extension").kind == "docx"


def test_magic_handles_are_reused_per_thread() -> None:
    import threading

    from documind_ingest import validation

    first = validation._magic()
    assert validation._magic() is first
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(validation._magic()))
    t.start()
    t.join()
    assert other[0] is not first
