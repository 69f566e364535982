"""structlog set-up: JSON lines (or readable console lines), with context bound per message
through contextvars (message id, actor, document id).

Every logger writes the same format: DocuMind's structlog loggers directly, and the standard
library's (Dramatiq's worker and consumer loggers, SQLAlchemy, alembic, httpx, unstructured...)
through structlog's ProcessorFormatter on the root logger's handlers. Dramatiq's CLI has already
given each worker process a root handler (a plain-text format writing into the pipe to the main
process) by the time our code runs, so the handlers found there are re-formatted rather than a
second one added: one line per record, in one format, through the same pipe."""

from __future__ import annotations

import logging
import sys

import structlog

# Loud third-party loggers: kept to errors (their warnings repeat per document).
NOISY_LOGGERS = ("httpx", "sentence_transformers", "transformers", "unstructured", "pikepdf")


def _shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(json: bool):  # noqa: ANN202 (a structlog processor)
    return structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)


def stdlib_formatter(json: bool = True) -> logging.Formatter:
    """The formatter of standard-library records: the same keys as structlog's lines (event,
    level, timestamp, bound context) plus ``logger``, and the traceback as ``exception``."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(json),
        ],
    )


def configure_logging(level: str = "INFO", json: bool = True, stream=None) -> None:  # noqa: ANN001
    out = stream if stream is not None else sys.stderr
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, _renderer(json)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Libraries log through stdlib logging: warnings and up, in our format.
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(out))
    formatter = stdlib_formatter(json)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(logging.WARNING)
    # Dramatiq's own loggers keep their INFO lines (worker boot, shutdown), now as JSON.
    logging.getLogger("dramatiq").setLevel(logging.getLevelName(level))
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # warnings.warn(...) from libraries becomes a record of the "py.warnings" logger.
    logging.captureWarnings(True)


def get_logger(name: str = "documind") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
