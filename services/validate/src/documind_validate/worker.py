"""Composition root of the validate service (``dramatiq documind_validate.worker:setup``).

The service owns the ``validate`` queue. Its actors (validation tasks, assignment, results,
audit trail) arrive with the human-validation issue; until then it registers none, and a
worker started for it consumes nothing but stays a valid deployable."""

from __future__ import annotations

import dramatiq

from documind.runtime import Runtime, boot


def register(runtime: Runtime) -> None:
    """No actors yet (see the module docstring)."""


def setup() -> dramatiq.Broker:
    return boot(register)
