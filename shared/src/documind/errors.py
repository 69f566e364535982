"""The exception tree. Workers decide retry-or-fail from the class alone (docs/design.md rule 7):

    DocumindError
    ├── PermanentError      fail the document at once, never retry; ``str()`` is user-facing
    │   ├── UnsupportedFileType, EmptyFile, FileTooLarge, EncryptedFile, CorruptFile,
    │   │   UnsafeArchive, NoTextExtracted
    │   ├── ToolMissing         a program the document needs (Tesseract, LibreOffice) is absent
    │   ├── ToolTimedOut        a child process (LibreOffice, Tesseract...) ran past its limit
    │   ├── MalformedMessage    payload failed its schema: dead-lettered
    │   ├── ModelMismatch       query model differs from the collection's
    │   └── IndexLayoutOutdated the collection predates the current vector layout: re-index
    ├── TransientError      a dependency is briefly unavailable: retry with backoff
    ├── InconsistentChunks  chunk rows differ from the document's chunk_count: never complete
    └── Fenced              the document was deleted/cancelled/superseded: drop the work
"""

from __future__ import annotations


class DocumindError(Exception):
    """Base of every error DocuMind raises on purpose."""


class PermanentError(DocumindError):
    """Retrying cannot help. The message is shown to the person who uploaded the file."""


class UnsupportedFileType(PermanentError):
    pass


class EmptyFile(PermanentError):
    pass


class FileTooLarge(PermanentError):
    pass


class EncryptedFile(PermanentError):
    pass


class CorruptFile(PermanentError):
    pass


class UnsafeArchive(PermanentError):
    """A zip-based upload that would expand beyond the limits (a possible zip bomb)."""


class NoTextExtracted(PermanentError):
    pass


class ToolMissing(PermanentError):
    """The document needs a program this machine lacks; the message names its package."""


class ToolTimedOut(PermanentError):
    """An external tool did not finish within its limit on this input; it was killed. The same
    input would hang it again, so the document fails rather than retries."""


class MalformedMessage(PermanentError):
    pass


class ModelMismatch(PermanentError):
    pass


class IndexLayoutOutdated(PermanentError):
    """The Qdrant collection was written by an earlier release; it must be re-indexed."""


class TransientError(DocumindError):
    """Worth retrying: a broker, database or vector store hiccup."""


class InconsistentChunks(DocumindError):
    """A document's chunk rows do not match its ``chunk_count``: completing it would report
    chunks that are not there. Neither permanent nor transient: the error policy dead-letters
    the message and fails the document, so the broken invariant is seen, not hidden."""


class Fenced(DocumindError):
    """The work belongs to a document that is deleted, cancelled or re-processed since."""


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not see (used by the Retries middleware)."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, DocumindError):
        return False
    # Imported lazily: each is optional for some callers and costly to import.
    transient: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        from sqlalchemy.exc import DisconnectionError, OperationalError

        transient += [OperationalError, DisconnectionError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import redis.exceptions as redis_exc

        transient += [redis_exc.ConnectionError, redis_exc.TimeoutError, redis_exc.BusyLoadingError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import httpx
        from qdrant_client.http.exceptions import ResponseHandlingException

        transient += [httpx.TransportError, ResponseHandlingException]
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, tuple(transient))
