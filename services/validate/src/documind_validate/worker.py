"""Composition root of the validate service (``dramatiq documind_validate.worker:setup``).

The service owns the ``validate`` queue. Its actor ``validate.review_chunks`` opens one
validation task per low-confidence chunk (``ReviewChunks``, sent by AI processing or by
``documind validate flag``) and pushes open tasks to the least-loaded fitting validators.
Validators take and answer tasks through the CLI, against the database
(``documind.validation``); corrections and rejections go on to the embed and search
services as ``revision`` messages."""

from __future__ import annotations

import dramatiq

from documind.runtime import Runtime, boot
from documind.tasks import declare
from documind.contracts import ReviewChunks

from documind_validate.review import TaskOpener


def register(runtime: Runtime) -> None:
    declare(runtime, ReviewChunks, TaskOpener(runtime).review)


def setup() -> dramatiq.Broker:
    return boot(register)
