"""One document through validate -> extract -> chunk, then handed on to embedding, with its
metadata and renditions recorded.

PDFs are split into page ranges (``ExtractPages`` messages, ``DOCUMIND_INGEST_PAGES_PER_RANGE``
pages each): every range is extracted page by page (text layer, or OCR per page), chunked and
stored on its own and retried on its own; the range that lands last numbers all chunks and
hands the document on (range_store). Plain text takes the fast splitter (fast_text); other
formats go through unstructured (extraction)."""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from typing import Iterator
from functools import cached_property

from documind.contracts import EmbedChunks, ExtractPages, ProcessDocument
from documind.db.models import StageName
from documind.embedding import TokenCounter
from documind.errors import CorruptFile, Fenced, NoTextExtracted
from documind.logging import get_logger
from documind.renditions import delete_renditions
from documind.runtime import Runtime
from documind.status import StatusStore

from documind_ingest.budgets import Budgets
from documind_ingest.chunk_store import count_chunks, read_chunks, replace_chunks
from documind_ingest.chunking import ChunkDraft, chunk_elements
from documind_ingest.extraction import extract
from documind_ingest.docx_stream import iter_docx_blocks
from documind_ingest.metadata import document_metadata
from documind_ingest.fast_text import Block, batches, iter_text_blocks, to_elements
from documind_ingest.markup import MARKUP_KINDS, flat_markup, markup_blocks
from documind_ingest.page_ranges import plan_ranges
from documind_ingest.pdf_pages import iter_pages, page_count
from documind_ingest.range_store import clear_ranges, orphaned_hand_off, save_range
from documind_ingest.renditions import RenditionBuilder, render, render_chunks, store_renditions
from documind_ingest.searchable_pdf import searchable_pdf
from documind_ingest.validation import Validated, ZipLimits, validate_file

SERVICE = "ingest"
# Characters of a streamed document (DOCX) chunked at a time: bounds the elements in memory.
STREAM_BATCH_CHARS = 200_000
# A searchable PDF re-OCRs every page: made for scanned PDFs up to this many pages (larger
# scans would double a long OCR run; their text is searchable through the index anyway).
SEARCHABLE_PDF_MAX_PAGES = 100
# Chunks read back to detect a large document's language (its first few thousand words).
LANGUAGE_SAMPLE_CHUNKS = 20


def etree_errors() -> type[Exception]:
    from lxml import etree

    return etree.XMLSyntaxError


@dataclass
class IngestPipeline:
    runtime: Runtime

    @cached_property
    def tokenizer(self) -> TokenCounter:
        return TokenCounter(self.runtime.settings.embedding_model)

    @cached_property
    def budgets(self) -> Budgets:
        st = self.runtime.settings
        return Budgets(st.max_page_pixels, st.max_pages, st.max_text_bytes)

    def _check_upload(self, path, source_name: str | None) -> Validated:  # noqa: ANN001
        """The upload checks, as for a file of its own (e-mail attachments)."""
        st = self.runtime.settings
        return validate_file(
            path, max_bytes=st.max_file_bytes, source_name=source_name,
            zip_limits=ZipLimits(st.zip_max_uncompressed_bytes, st.zip_max_ratio), budgets=self.budgets,
        )

    def _timed(self, stage: StageName, started: float) -> None:
        self.runtime.metrics.stage_seconds.labels(SERVICE, stage.value).observe(time.monotonic() - started)

    def process(self, work: ProcessDocument) -> int:
        rt, st = self.runtime, self.runtime.settings
        status, doc_id, gen = rt.status, work.document_id, work.generation

        t = time.monotonic()
        with status.step(doc_id, gen) as step:
            # A duplicate (redelivered, re-sent) ProcessDocument of a document whose chunks
            # are handed on already: dropped (Fenced) before it touches a stage or a chunk.
            StatusStore.guard_chunk_set(step.session, doc_id, gen)
            step.begin(StageName.VALIDATE)
        doc = status.get(doc_id)
        if doc is None:
            raise Fenced(f"document {doc_id} vanished")
        with rt.storage.local_copy(doc.storage_key) as path:
            validated = self._check_upload(path, doc.source_name)
            pages = page_count(path) if validated.kind == "pdf" else None
            with status.step(doc_id, gen) as step:
                step.set(mime_type=validated.mime_type)
                step.finish(StageName.VALIDATE)
                step.begin(StageName.EXTRACT, units_total=pages)
                if pages is not None:
                    step.progress(StageName.EXTRACT, 0, pages)  # a re-driven PDF counts pages afresh
            self._timed(StageName.VALIDATE, t)

            if pages is not None:
                return self._split_into_ranges(work, pages)

            if validated.kind in ("docx", "txt") or flat_markup(path, validated.kind, validated.encoding):
                return self._stream(work, doc, path, validated)

            t = time.monotonic()
            with status.heartbeat(doc_id, StageName.EXTRACT, st.heartbeat_interval_s, gen):
                extraction = extract(
                    path, validated.kind,
                    ocr_languages=st.ocr_languages,
                    min_chars_per_page=st.pdf_ocr_min_chars_per_page,
                    source_name=doc.source_name, mime_type=validated.mime_type,
                    encoding=validated.encoding,
                    ocr_timeout_s=st.ocr_timeout_s, convert_timeout_s=st.convert_timeout_s,
                    budgets=self.budgets, check_upload=self._check_upload,
                )
                described = document_metadata(
                    path, validated.kind, elements=extraction.elements, source_name=doc.source_name,
                    sha256=doc.sha256, mime_type=validated.mime_type, pages=extraction.pages,
                )
                scan_pdf = (
                    searchable_pdf(
                        path, validated.kind, ocr_languages=st.ocr_languages, pages=extraction.pages or 1
                    )
                    if extraction.ocr_used and st.renditions and st.searchable_pdf else None
                )
        with status.step(doc_id, gen) as step:
            step.finish(StageName.EXTRACT)
            step.begin(StageName.CHUNK)
        self._timed(StageName.EXTRACT, t)

        t = time.monotonic()
        # The heartbeat lasts until the hand-off: rendering and storing renditions take time too.
        with status.heartbeat(doc_id, StageName.CHUNK, st.heartbeat_interval_s, gen):
            drafts = self._chunk(extraction.elements)
            self._timed(StageName.CHUNK, t)
            text_chars = sum(len(d.text) for d in drafts)
            self._require_text(text_chars, extraction.ocr_used)
            n = replace_chunks(rt.sessions, doc_id, gen, drafts)
            rendered = render(extraction.elements) if st.renditions else {}
            if scan_pdf:
                rendered["pdf"] = scan_pdf
            self._finish(
                work, doc, n, rendered,
                {
                    **described, "kind": validated.kind, "ocr": extraction.ocr_used, "characters": text_chars,
                    **({"skipped_attachments": extraction.skipped_attachments} if extraction.skipped_attachments else {}),
                },
            )
        return n

    def _finish(self, work, doc, n: int, rendered: dict[str, bytes], metadata: dict) -> None:  # noqa: ANN001
        """Chunks are stored: record renditions and metadata, then hand on to embedding."""
        rt, status = self.runtime, self.runtime.status
        doc_id, gen = work.document_id, work.generation
        renditions = (
            store_renditions(rt.storage, tenant=doc.tenant, document_id=doc_id, generation=gen, rendered=rendered)
            if rendered else {}
        )
        try:
            with status.step(doc_id, gen) as step:
                # Under the document's lock: the rows must still be the n chunks this worker
                # stored. A re-drive that started the document afresh meanwhile (clear_ranges)
                # owns it now; handing on n would complete it with no chunks.
                rows = count_chunks(step.session, doc_id, gen)
                if rows != n:
                    raise Fenced(
                        f"document {doc_id} chunk set changed before its hand-off ({rows} rows, {n} stored)"
                    )
                step.set(chunk_count=n, metadata_={**metadata, "renditions": renditions})
                step.finish(StageName.CHUNK)
                step.hand_off(StageName.EMBED, units_total=n)
        except Fenced:
            # Deleted, cancelled or superseded meanwhile: nobody will ever read these.
            delete_renditions({"renditions": renditions}, rt.storage)
            raise
        # A re-process leaves the previous generation's renditions behind: drop them.
        delete_renditions(doc.metadata_, rt.storage, keep=set(renditions.values()))
        self._send_embed_work(work, n)
        get_logger("documind.ingest").info(
            "document chunked", document_id=doc_id, chunks=n, kind=metadata.get("kind"), ocr=metadata.get("ocr")
        )

    # ---- streamed documents (DOCX) -------------------------------------------------------
    def _stream(self, work: ProcessDocument, doc, path, validated: Validated) -> int:  # noqa: ANN001
        """Extract and chunk in one pass over the document, batch by batch: memory holds one
        batch of elements, not the document's (the chunk texts are kept: they are the
        result). The fence is checked between batches."""
        rt, st, status = self.runtime, self.runtime.settings, self.runtime.status
        doc_id, gen, kind = work.document_id, work.generation, validated.kind
        t = time.monotonic()
        drafts: list[ChunkDraft] = []
        last_page = 0
        rendition = RenditionBuilder() if st.renditions else None
        with status.heartbeat(doc_id, StageName.EXTRACT, st.heartbeat_interval_s, gen):
            for batch in batches(self._blocks(path, validated), STREAM_BATCH_CHARS):
                status.check(doc_id, gen)
                elements = to_elements(batch)
                drafts.extend(self._chunk(elements))
                if rendition is not None:
                    rendition.add(elements)
                last_page = max(last_page, max((b.page or 0) for b in batch))
        with status.step(doc_id, gen) as step:
            step.finish(StageName.EXTRACT)
            step.begin(StageName.CHUNK)
        self._timed(StageName.EXTRACT, t)
        with status.heartbeat(doc_id, StageName.CHUNK, st.heartbeat_interval_s, gen):
            text_chars = sum(len(d.text) for d in drafts)
            self._require_text(text_chars, False)
            n = replace_chunks(rt.sessions, doc_id, gen, drafts)
            described = document_metadata(
                path, kind, elements=drafts[:LANGUAGE_SAMPLE_CHUNKS], source_name=doc.source_name,
                sha256=doc.sha256, mime_type=validated.mime_type, pages=last_page or None,
            )
            described["words"] = sum(len(d.text.split()) for d in drafts)
            rendered = rendition.build() if rendition is not None else {}
            self._finish(work, doc, n, rendered, {**described, "kind": kind, "ocr": False, "characters": text_chars})
        return n

    @staticmethod
    def _blocks(path, validated: Validated) -> Iterator[Block]:  # noqa: ANN001
        """Streamed kinds: DOCX, plain text (read in windows: any size in bounded memory) and
        HTML/XML nested too deeply for a tree parser (markup: flat text, one pass)."""
        kind = validated.kind
        if kind == "txt":
            yield from iter_text_blocks(path, validated.encoding)
            return
        if kind in MARKUP_KINDS:
            yield from markup_blocks(path, kind, validated.encoding)
            return
        try:
            yield from iter_docx_blocks(path)
        except (zipfile.BadZipFile, KeyError, etree_errors()) as exc:
            raise CorruptFile(f"could not read {kind} file: {exc}") from None

    # ---- page ranges ---------------------------------------------------------------------
    def _split_into_ranges(self, work: ProcessDocument, total_pages: int) -> int:
        """The EXTRACT stage has begun at 0 of ``total_pages``: send one message per range."""
        rt = self.runtime
        doc_id, gen = work.document_id, work.generation
        ranges = plan_ranges(total_pages, rt.settings.ingest_pages_per_range)
        clear_ranges(rt.sessions, doc_id, gen)  # a re-driven document starts its ranges afresh
        for first, last in ranges:
            rt.bus.send(ExtractPages(
                document_id=doc_id, generation=gen, first_page=first, last_page=last, total_pages=total_pages,
                lane=work.lane, tenant=work.tenant,
            ))
        get_logger("documind.ingest").info(
            "document split into page ranges", document_id=doc_id, pages=total_pages, ranges=len(ranges)
        )
        return 0

    def extract_pages(self, work: ExtractPages) -> int:
        """One page range: extract page by page (the fence is checked before every page, so a
        cancelled or deleted document stops within one page), chunk, store; the last range
        to land numbers every chunk and hands the document on."""
        rt, st, status = self.runtime, self.runtime.settings, self.runtime.status
        doc_id, gen = work.document_id, work.generation
        orphaned = orphaned_hand_off(rt.sessions, doc_id, gen, fresh_s=3 * st.heartbeat_interval_s)
        if orphaned is not None:
            # Assembled already: this range's pages are in the chunks. If the assembling worker
            # died (or failed) before the hand-off, nothing else would send the document on
            # until the watchdog's stale_after_s: start its ranges again now, as a re-drive does.
            if orphaned:
                get_logger("documind.ingest").warning("assembled document never handed on: ranges restarted",
                                                      document_id=doc_id)
                rt.bus.send(ProcessDocument(document_id=doc_id, generation=gen, lane=work.lane, tenant=work.tenant))
            return 0
        t = time.monotonic()
        status.begin_stage(doc_id, gen, StageName.EXTRACT)
        doc = status.get(doc_id)
        if doc is None:
            raise Fenced(f"document {doc_id} vanished")
        blocks, ocr_pages = [], 0
        with rt.storage.local_copy(doc.storage_key) as path, \
                status.heartbeat(doc_id, StageName.EXTRACT, st.heartbeat_interval_s, gen):
            for page in iter_pages(
                path, work.first_page, work.last_page,
                ocr_languages=st.ocr_languages,
                min_chars_per_page=st.pdf_ocr_min_chars_per_page,
                before_page=lambda _n: status.check(doc_id, gen),
                ocr_timeout_s=st.ocr_timeout_s, max_pixels=st.max_page_pixels,
            ):
                blocks.extend(page.blocks)
                ocr_pages += page.ocr_used
            drafts = self._chunk(to_elements(blocks))
        landing = save_range(
            rt.sessions, doc_id, gen, work.first_page, work.last_page, work.total_pages, drafts, ocr_pages
        )
        self._timed(StageName.EXTRACT, t)
        if landing.assembled is None:
            return len(drafts)
        # This call landed the last range: the document's chunks are numbered and stored.
        n = landing.assembled
        with status.step(doc_id, gen) as step:
            step.finish(StageName.EXTRACT)
            step.begin(StageName.CHUNK, units_total=n)
        # Heartbeat until the hand-off: the searchable PDF alone can take a minute a page, and
        # a silent CHUNK stage looks dead to the watchdog, whose re-drive would clear the chunks.
        with status.heartbeat(doc_id, StageName.CHUNK, st.heartbeat_interval_s, gen):
            self._require_text(landing.characters, landing.ocr_pages > 0)
            chunks = read_chunks(rt.sessions, doc_id, gen)
            scanned = landing.ocr_pages == work.total_pages <= SEARCHABLE_PDF_MAX_PAGES
            with rt.storage.local_copy(doc.storage_key) as path:
                described = document_metadata(
                    path, "pdf", elements=chunks[:LANGUAGE_SAMPLE_CHUNKS], source_name=doc.source_name,
                    sha256=doc.sha256, mime_type=doc.mime_type or "application/pdf", pages=work.total_pages,
                )
                scan_pdf = (
                    searchable_pdf(path, "pdf", ocr_languages=st.ocr_languages, pages=work.total_pages)
                    if scanned and st.renditions and st.searchable_pdf else None
                )
            rendered = render_chunks(chunks) if st.renditions else {}
            if scan_pdf:
                rendered["pdf"] = scan_pdf
            self._finish(work, doc, n, rendered, {
                **described, "kind": "pdf", "ocr": landing.ocr_pages > 0, "ocr_pages": landing.ocr_pages,
                "characters": landing.characters, "words": landing.words,
            })
        return len(drafts)

    # ---- shared steps --------------------------------------------------------------------
    def _chunk(self, elements: list) -> list[ChunkDraft]:
        st = self.runtime.settings
        return chunk_elements(
            elements, self.tokenizer,
            max_chars=st.chunk_max_chars,
            overlap_chars=st.chunk_overlap_chars,
            max_tokens=st.chunk_max_tokens,
        )

    def _require_text(self, text_chars: int, ocr_used: bool) -> None:
        minimum = self.runtime.settings.min_text_chars
        if text_chars >= minimum and text_chars > 0:
            return
        what = "no text could be extracted" if text_chars == 0 else (
            f"too little text to index ({text_chars} characters; minimum {minimum})"
        )
        raise NoTextExtracted(what + (" (OCR found none)" if ocr_used and not text_chars else ""))

    def _send_embed_work(self, work, n: int) -> None:  # noqa: ANN001
        """After the EMBED stage is handed off (committed): its work, in messages."""
        rt = self.runtime
        doc_id, gen = work.document_id, work.generation
        rt.metrics.chunks_processed.labels("chunk").inc(n)
        step = rt.settings.embed_chunks_per_message
        for start in range(0, n, step):
            rt.bus.send(EmbedChunks(
                document_id=doc_id, generation=gen, start=start, end=min(n, start + step), lane=work.lane,
                tenant=work.tenant,
            ))
