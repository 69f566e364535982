"""One document through validate -> extract -> chunk, then handed on to embedding."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

from documind.contracts import EmbedChunks, ProcessDocument
from documind.db.models import StageName
from documind.embedding import TokenCounter
from documind.errors import Fenced, NoTextExtracted
from documind.logging import get_logger
from documind.renditions import delete_renditions
from documind.runtime import Runtime

from documind_ingest.chunk_store import replace_chunks
from documind_ingest.chunking import chunk_elements
from documind_ingest.extraction import extract
from documind_ingest.metadata import document_metadata
from documind_ingest.renditions import store_renditions
from documind_ingest.searchable_pdf import searchable_pdf
from documind_ingest.validation import ZipLimits, validate_file

SERVICE = "ingest"


@dataclass
class IngestPipeline:
    runtime: Runtime

    @cached_property
    def tokenizer(self) -> TokenCounter:
        return TokenCounter(self.runtime.settings.embedding_model)

    def _timed(self, stage: StageName, started: float) -> None:
        self.runtime.metrics.stage_seconds.labels(SERVICE, stage.value).observe(time.monotonic() - started)

    def process(self, work: ProcessDocument) -> int:
        rt, st = self.runtime, self.runtime.settings
        status, doc_id, gen = rt.status, work.document_id, work.generation
        log = get_logger("documind.ingest").bind(document_id=doc_id)

        t = time.monotonic()
        status.begin_stage(doc_id, gen, StageName.VALIDATE)
        doc = status.get(doc_id)
        if doc is None:
            raise Fenced(f"document {doc_id} vanished")
        with rt.storage.local_copy(doc.storage_key) as path:
            validated = validate_file(
                path, max_bytes=st.max_file_bytes, source_name=doc.source_name,
                zip_limits=ZipLimits(st.zip_max_uncompressed_bytes, st.zip_max_ratio),
            )
            status.update_document(doc_id, gen, mime_type=validated.mime_type)
            status.finish_stage(doc_id, gen, StageName.VALIDATE)
            self._timed(StageName.VALIDATE, t)

            t = time.monotonic()
            status.begin_stage(doc_id, gen, StageName.EXTRACT)
            with status.heartbeat(doc_id, StageName.EXTRACT, st.heartbeat_interval_s):
                extraction = extract(
                    path, validated.kind,
                    ocr_languages=st.ocr_languages,
                    min_chars_per_page=st.pdf_ocr_min_chars_per_page,
                    source_name=doc.source_name, mime_type=validated.mime_type,
                    encoding=validated.encoding,
                )
                described = document_metadata(
                    path, validated.kind, elements=extraction.elements, source_name=doc.source_name,
                    sha256=doc.sha256, mime_type=validated.mime_type, pages=extraction.pages,
                )
                scan_pdf = (
                    searchable_pdf(path, validated.kind, ocr_languages=st.ocr_languages)
                    if extraction.ocr_used and st.renditions and st.searchable_pdf else None
                )
        status.finish_stage(doc_id, gen, StageName.EXTRACT)
        self._timed(StageName.EXTRACT, t)

        t = time.monotonic()
        status.begin_stage(doc_id, gen, StageName.CHUNK)
        with status.heartbeat(doc_id, StageName.CHUNK, st.heartbeat_interval_s):
            drafts = chunk_elements(
                extraction.elements, self.tokenizer,
                max_chars=st.chunk_max_chars,
                overlap_chars=st.chunk_overlap_chars,
                max_tokens=st.chunk_max_tokens,
            )
        text_chars = sum(len(d.text) for d in drafts)
        if not drafts or text_chars < st.min_text_chars:
            what = "no text could be extracted" if text_chars == 0 else (
                f"too little text to index ({text_chars} characters; minimum {st.min_text_chars})"
            )
            raise NoTextExtracted(what + (" (OCR found none)" if extraction.ocr_used and not text_chars else ""))
        n = replace_chunks(rt.sessions, doc_id, gen, drafts)
        renditions = (
            store_renditions(
                rt.storage, extraction.elements, tenant=doc.tenant, document_id=doc_id, generation=gen,
                searchable_pdf=scan_pdf,
            )
            if st.renditions else {}
        )
        try:
            status.update_document(
                doc_id, gen,
                chunk_count=n,
                metadata_={
                    **described,
                    "kind": validated.kind,
                    "ocr": extraction.ocr_used,
                    "characters": text_chars,
                    "renditions": renditions,
                },
            )
        except Fenced:
            # Deleted or superseded meanwhile: nobody will ever read these.
            delete_renditions({"renditions": renditions}, rt.storage)
            raise
        # A re-process leaves the previous generation's renditions behind: drop them.
        delete_renditions(doc.metadata_, rt.storage, keep=set(renditions.values()))
        status.finish_stage(doc_id, gen, StageName.CHUNK)
        self._timed(StageName.CHUNK, t)
        rt.metrics.chunks_processed.labels("chunk").inc(n)

        status.hand_off(doc_id, gen, StageName.EMBED, units_total=n)
        step = st.embed_chunks_per_message
        for start in range(0, n, step):
            rt.bus.send(
                EmbedChunks(document_id=doc_id, generation=gen, start=start, end=min(n, start + step), lane=work.lane)
            )
        log.info("document chunked", chunks=n, kind=validated.kind, ocr=extraction.ocr_used)
        return n
