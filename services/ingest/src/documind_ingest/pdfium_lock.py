"""One lock for every PDFium call in the process.

PDFium is not thread-safe, not even across different documents: pypdfium2's docs say
concurrent calls crash or corrupt the process, and CI saw "Failed to load page" on one PDF
while another thread rasterized a scan. The ingest worker runs several threads, and two
callers of PDFium live in it: our page reader (``pdf_pages``) and unstructured-inference (it
renders PDF pages for OCR). The library guards its calls with a private module-level lock,
which does not exclude ours; ``share_pdfium_lock()`` makes both use this one. (OCRmyPDF, the
third PDFium user, runs in a child process: see ``searchable_pdf``.)"""

from __future__ import annotations

import importlib
import threading

# Re-entrant: a thread already inside a locked section (ours or the library's) may call a
# helper that takes it again without deadlocking on itself.
PDFIUM_LOCK = threading.RLock()

# (module, attribute) of each library's own PDFium lock, as of the pinned versions.
LIBRARY_LOCKS = (("unstructured_inference.inference.pdf_image", "_pdfium_lock"),)


def share_pdfium_lock() -> None:
    """Point the library's PDFium lock at ours. Fails loudly when an upgrade renamed one,
    rather than silently letting two threads into PDFium again."""
    for module_name, attribute in LIBRARY_LOCKS:
        module = importlib.import_module(module_name)
        if not hasattr(module, attribute):
            raise RuntimeError(
                f"{module_name}.{attribute} is gone: check how this version serializes PDFium "
                "calls before upgrading (see documind_ingest.pdfium_lock)"
            )
        setattr(module, attribute, PDFIUM_LOCK)
