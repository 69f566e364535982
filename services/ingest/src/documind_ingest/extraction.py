"""Text extraction with unstructured, offline.

PDFs use the ``fast`` strategy (text layer); when a PDF has (almost) no text layer, or a
garbage one (``text_quality``), every page is OCR'd with Tesseract, page by page. Images are
always OCR'd. Tesseract runs through ``ocr`` and the formats unstructured would hand to
LibreOffice or pandoc through ``conversions``: each child has a time limit and is killed with
its process group (unstructured starts them without one). The uploader's file name goes to
unstructured too: stored copies have no extension. ``hi_res`` needs a layout model from
a hub and is never used (docs/design.md, stack facts)."""

from __future__ import annotations

import email
import email.policy
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from documind.errors import CorruptFile, EncryptedFile, PermanentError

from documind_ingest.budgets import Budgets, limit_pillow
from documind_ingest.conversions import CONVERTED_KINDS, partition_converted
from documind_ingest.excel95 import XLSX_MIME, biff5_as_xlsx, is_biff5
from documind_ingest.email_parts import iter_attachments
from documind_ingest.fast_text import iter_text_blocks, split_page_lines, to_elements
from documind_ingest.markup import MARKUP_KINDS, flat_markup, markup_blocks
from documind_ingest.ocr import image_frames, tesseract_text
from documind_ingest.pdf_pages import iter_pages
from documind_ingest.protected_msg import check_msg
from documind_ingest.system_tools import require_ocr
from documind_ingest.text_quality import assess
from documind_ingest.validation import IMAGE_KINDS, Validated, validate_file

# Defaults of DOCUMIND_OCR_TIMEOUT_S / DOCUMIND_CONVERT_TIMEOUT_S, for callers without settings.
OCR_TIMEOUT_S = 120.0
CONVERT_TIMEOUT_S = 120.0
DEFAULT_MAX_BYTES = 100 * 1024 * 1024  # of DOCUMIND_MAX_FILE_BYTES


@dataclass(frozen=True)
class Extraction:
    elements: list[Any]  # unstructured Elements
    ocr_used: bool
    pages: int | None
    # E-mail attachments not indexed: {"name": ..., "reason": ...} (the upload check's refusal).
    skipped_attachments: list[dict[str, str]] = field(default_factory=list)

    @property
    def text_chars(self) -> int:
        return sum(len(e.text or "") for e in self.elements)


def _pdf_pages(path: Path) -> int | None:
    try:
        from pypdf import PdfReader

        return len(PdfReader(str(path)).pages)
    except Exception:  # noqa: BLE001
        return None


def _check_email(path: Path) -> None:
    with path.open("rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    ctype = msg.get_content_type()
    if ctype in ("multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"):
        raise EncryptedFile("email is encrypted (PGP/S-MIME); nothing readable to index")


def extract(
    path: Path, kind: str, *, ocr_languages: str, min_chars_per_page: int,
    source_name: str | None = None, mime_type: str | None = None, encoding: str | None = None,
    ocr_timeout_s: float = OCR_TIMEOUT_S, convert_timeout_s: float = CONVERT_TIMEOUT_S,
    budgets: Budgets = Budgets(), check_upload: Callable[[Path, str | None], Validated] | None = None,
    attachments: bool = True,
) -> Extraction:
    """``check_upload(path, name)``: the upload checks an e-mail attachment must pass (by
    default ``validate_file`` with default limits); ``attachments=False`` indexes an e-mail's
    body only (an attached e-mail's own attachments are not opened)."""
    from unstructured.partition.auto import partition

    limit_pillow(budgets.max_page_pixels)  # unstructured's lazily imported pdf module lifts it

    # The validated type decides the partitioner (content_type); the name lands in metadata.
    common: dict[str, Any] = {"languages": ocr_languages.split("+"), "metadata_filename": source_name}
    if mime_type:
        common["content_type"] = mime_type
    if encoding:
        common["encoding"] = encoding
    try:
        if kind == "eml":
            _check_email(path)
        if kind == "msg":
            check_msg(path)
        if kind in ("eml", "msg"):
            return _email(
                path, kind, common, attachments=attachments, check_upload=check_upload,
                again=lambda p, v, name: extract(
                    p, v.kind, ocr_languages=ocr_languages, min_chars_per_page=min_chars_per_page,
                    source_name=name, mime_type=v.mime_type, encoding=v.encoding, ocr_timeout_s=ocr_timeout_s,
                    convert_timeout_s=convert_timeout_s, budgets=budgets, check_upload=check_upload,
                    attachments=False,
                ),
            )
        if kind == "txt":
            return Extraction(to_elements(iter_text_blocks(path, encoding)), ocr_used=False, pages=None)
        if kind in MARKUP_KINDS and flat_markup(path, kind, encoding):
            return Extraction(to_elements(markup_blocks(path, kind, encoding)), ocr_used=False, pages=None)
        if kind in IMAGE_KINDS:
            require_ocr(ocr_languages)
            blocks = []
            for number, frame in enumerate(image_frames(path), start=1):
                what = "the image" if number == 1 else f"frame {number} of the image"
                text = tesseract_text(frame, ocr_languages, timeout_s=ocr_timeout_s, what=what)
                blocks.extend(split_page_lines(text, number))
            return Extraction(to_elements(blocks), ocr_used=True, pages=1)
        if kind == "pdf":
            pages = _pdf_pages(path)
            elements = partition(filename=str(path), strategy="fast", **common)
            text = "\n".join(e.text or "" for e in elements)
            too_little = len(text) < min_chars_per_page * max(pages or 1, 1)
            if too_little or assess(text).is_garbage:
                blocks = [
                    block
                    for page in iter_pages(
                        path, 1, pages or 1, ocr_languages=ocr_languages, min_chars_per_page=min_chars_per_page,
                        force_ocr=True, ocr_timeout_s=ocr_timeout_s, max_pixels=budgets.max_page_pixels,
                    )
                    for block in page.blocks
                ]
                return Extraction(to_elements(blocks), ocr_used=True, pages=pages)
            return Extraction(elements, ocr_used=False, pages=pages)
        if kind in CONVERTED_KINDS:
            elements = partition_converted(path, kind, timeout_s=convert_timeout_s, **common)
            return Extraction(elements, ocr_used=False, pages=None)
        if kind == "xls" and is_biff5(path):
            with biff5_as_xlsx(path, timeout_s=convert_timeout_s) as converted:
                elements = partition(filename=str(converted), **{**common, "content_type": XLSX_MIME})
            return Extraction(elements, ocr_used=False, pages=None)
        elements = partition(filename=str(path), **common)
        return Extraction(elements, ocr_used=False, pages=None)
    except PermanentError:
        raise  # already a user-facing reason (encrypted, no text, a tool that timed out...)
    except Exception as exc:  # noqa: BLE001 - any parser failure on this input is permanent
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if "password" in message.lower() or "encrypt" in message.lower():
            raise EncryptedFile(f"{kind} file is password protected") from None
        raise CorruptFile(f"could not read {kind} file: {message}") from None
    finally:
        limit_pillow(budgets.max_page_pixels)


def _email(
    path: Path, kind: str, common: dict[str, Any], *, attachments: bool,
    check_upload: Callable[[Path, str | None], Validated] | None, again: Callable[..., Extraction],
) -> Extraction:
    """The body through unstructured, then each attachment that passes the upload checks
    through ``extract`` again (``again``); the refused ones are listed, not indexed."""
    from unstructured.partition.auto import partition

    elements = list(partition(filename=str(path), process_attachments=False, **common))
    if not attachments:
        return Extraction(elements, ocr_used=False, pages=None)
    check = check_upload or (lambda p, name: validate_file(p, max_bytes=DEFAULT_MAX_BYTES, source_name=name))
    skipped: list[dict[str, str]] = []
    ocr_used = False
    for attachment in iter_attachments(path, kind):
        with tempfile.TemporaryDirectory(prefix="documind-attachment-") as tmp:
            stored = Path(tmp) / "attachment"
            stored.write_bytes(attachment.data)
            try:
                validated = check(stored, attachment.name)
                part = again(stored, validated, attachment.name)
            except PermanentError as exc:
                skipped.append({"name": attachment.name, "reason": str(exc)})
                continue
        for element in part.elements:
            element.metadata.attached_to_filename = attachment.name
        elements.extend(part.elements)
        ocr_used = ocr_used or part.ocr_used
    return Extraction(elements, ocr_used=ocr_used, pages=None, skipped_attachments=skipped)
