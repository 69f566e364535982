"""Composition root of the ingest service.

``register(runtime)`` declares the actors on a runtime (the embedded mode calls it for every
installed service); ``setup()`` is what Dramatiq's CLI calls in each worker process:
``dramatiq documind_ingest.worker:setup``."""

from __future__ import annotations

import dramatiq

from documind.contracts import ExtractPages, ProcessDocument
from documind.runtime import Runtime, boot
from documind.tasks import declare

from documind_ingest.ocr_languages import check_ocr_languages
from documind_ingest.pdfium_lock import share_pdfium_lock
from documind_ingest.pipeline import IngestPipeline


def register(runtime: Runtime) -> None:
    # Fail at start, in one line, when a configured Tesseract language pack is missing.
    check_ocr_languages(runtime.settings.ocr_languages)
    share_pdfium_lock()  # the worker's threads all read PDFs; PDFium must see one at a time
    pipeline = IngestPipeline(runtime)
    declare(runtime, ProcessDocument, pipeline.process)
    declare(runtime, ExtractPages, pipeline.extract_pages)


def setup() -> dramatiq.Broker:
    return boot(register)
