"""Composition root of the ingest service.

``register(runtime)`` declares the actors on a runtime (the embedded mode calls it for every
installed service); ``setup()`` is what Dramatiq's CLI calls in each worker process:
``dramatiq documind_ingest.worker:setup``."""

from __future__ import annotations

import dramatiq

from documind.contracts import ExtractPages, ProcessDocument
from documind.logging import get_logger
from documind.runtime import Runtime, boot
from documind.settings import RunMode
from documind.tasks import declare

from documind_ingest.budgets import limit_pillow
from documind_ingest.ocr_languages import check_ocr_languages
from documind_ingest.pdfium_lock import share_pdfium_lock
from documind_ingest.pipeline import IngestPipeline
from documind_ingest.system_tools import missing_tools


def register(runtime: Runtime) -> None:
    st = runtime.settings
    if st.mode is RunMode.DISTRIBUTED:
        # A deployed worker without its OCR tools is a broken image: refuse to start, in one line.
        check_ocr_languages(st.ocr_languages)
    else:
        # On a laptop that could not install them, the rest still works: the documents that
        # need a missing program fail naming its package (system_tools).
        for line in missing_tools(st.ocr_languages):
            get_logger("documind.ingest").warning(line)
    limit_pillow(st.max_page_pixels)  # unstructured lifted Pillow's decompression-bomb limit
    share_pdfium_lock()  # the worker's threads all read PDFs; PDFium must see one at a time
    pipeline = IngestPipeline(runtime)
    declare(runtime, ProcessDocument, pipeline.process)
    declare(runtime, ExtractPages, pipeline.extract_pages)


def setup() -> dramatiq.Broker:
    return boot(register)
