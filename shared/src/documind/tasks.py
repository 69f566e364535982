"""Declaring an actor that consumes a contract, with DocuMind's error policy in one place:

- malformed payload    -> dead-letter, no retry (docs/design.md rule 10)
- a document of another tenant than the message names -> dropped as if missing (``Fenced``)
- ``Fenced``           -> the document was deleted/cancelled/superseded: drop the work quietly
- ``PermanentError``   -> fail the document with the error's user-facing message, no retry
- transient error      -> re-raise so Retries backs off and tries again, until retries run out
- anything else, or retries exhausted -> dead-letter and fail the document (never stuck)
- the message's time limit ran out (``TimeLimitExceeded``, a ``BaseException``) -> dead-letter
  and fail the document naming the limit: a re-run would hit the same limit again
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import dramatiq
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.time_limit import TimeLimitExceeded

from documind.contracts import (
    LANE_PRIORITY, LANED_CONTRACTS, Contract, DocumentWork, Lane, TenantScoped, lane_actor, lane_queue,
)
from documind.errors import Fenced, MalformedMessage, PermanentError, is_transient
from documind.logging import get_logger
from documind.middleware.deliveries import dead_letter
from documind.runtime import Runtime

C = TypeVar("C", bound=Contract)


def declare(
    runtime: Runtime,
    contract: type[C],
    handler: Callable[[C], Any],
    *,
    store_results: bool = False,
    time_limit_s: float | None = None,
    priority_offset: int = 0,
    **options: Any,
) -> dramatiq.Actor:
    log = get_logger(contract.ACTOR)
    settings = runtime.settings
    limit_s = time_limit_s or settings.message_time_limit_s

    def fail_document(work: Contract | None, reason: str) -> None:
        if isinstance(work, DocumentWork) and runtime.status.fail(
            work.document_id, reason, generation=work.generation
        ):
            runtime.metrics.documents_finished.labels("failed").inc()

    def to_dead_letters(reason: str) -> None:
        message = CurrentMessage.get_current_message()
        if message is not None:
            dead_letter(runtime.sessions, message, reason)
            runtime.metrics.dead_letters.labels(contract.ACTOR).inc()

    def run(payload: Any = None) -> Any:
        try:
            # A scheduler (periodiq) sends no arguments: the contract's defaults fill in.
            work = contract.parse({} if payload is None else payload)
        except MalformedMessage as exc:
            to_dead_letters(str(exc))
            log.error("malformed message dead-lettered", error=str(exc))
            raise
        try:
            if isinstance(work, TenantScoped) and work.tenant is not None and not runtime.status.belongs_to(
                work.document_id, work.tenant
            ):
                raise Fenced(f"no document {work.document_id} for tenant {work.tenant}")
            result = handler(work)
            return result if store_results else None
        except Fenced as exc:
            log.info("work dropped", reason=str(exc))
            return None
        except TimeLimitExceeded:
            # Not an Exception: without this branch nothing records it, the stage's heartbeat
            # stops and the watchdog re-runs the same overlong work again and again.
            reason = f"{contract.ACTOR} exceeded its time limit of {limit_s:g} s"
            log.error("time limit exceeded", reason=reason)
            to_dead_letters(reason)
            fail_document(work, reason)
            if store_results:
                raise
            return None
        except PermanentError as exc:
            log.info("document failed permanently", reason=str(exc))
            fail_document(work, str(exc))
            if store_results:
                raise
            return None
        except Exception as exc:
            message = CurrentMessage.get_current_message()
            retries = message.options.get("retries", 0) if message is not None else settings.max_retries
            if is_transient(exc) and retries < settings.max_retries:
                raise
            reason = f"internal error in {contract.ACTOR}: {type(exc).__name__}: {exc}"
            log.exception("giving up on message", reason=reason)
            to_dead_letters(reason)
            fail_document(work, reason)
            if store_results:
                raise
            return None

    def actor(lane: Lane) -> dramatiq.Actor:
        def fn(payload: Any = None) -> Any:
            return run(payload)

        fn.__name__ = fn.__qualname__ = lane_actor(contract.ACTOR, lane).replace(".", "_")
        return dramatiq.actor(
            fn,
            broker=runtime.broker,
            actor_name=lane_actor(contract.ACTOR, lane),
            queue_name=lane_queue(contract.QUEUE, lane),
            # Work after searchability (enrichment) takes an offset: a worker's prefetched
            # document stages of the same lane run first.
            priority=LANE_PRIORITY[lane] + priority_offset,
            store_results=store_results,
            max_retries=settings.max_retries,
            time_limit=int(limit_s * 1000),
            **options,
        )

    # Document stages get a bulk twin on their ``*_bulk`` queue with a lower priority.
    if contract in LANED_CONTRACTS:
        actor(Lane.BULK)
    return actor(Lane.INTERACTIVE)
