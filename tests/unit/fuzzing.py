"""Shared settings of the property-based fuzz tests (test_fuzz_*.py).

Sized for ``make test`` (all fuzz tests together well under a minute on two cores);
``HYPOTHESIS_PROFILE=long`` runs ``LONG_FACTOR`` times as many examples (the benchmark / long
form). ``pytest --hypothesis-show-statistics`` prints how many examples each test ran."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Iterator

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG_FACTOR = 20
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")


def fuzz_settings(examples: int, *, deadline_ms: int | None = 2000) -> settings:
    """``examples`` in the default profile, ``LONG_FACTOR`` times that in the long one.
    Explicit per test (a global profile would change every other hypothesis test too)."""
    scale = LONG_FACTOR if PROFILE == "long" else 1
    return settings(
        max_examples=examples * scale,
        deadline=deadline_ms,
        derandomize=PROFILE != "long",  # make test: the same examples every run; long: new ones
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Fail an example that runs longer than ``seconds`` (a hang): hypothesis's deadline only
    judges an example once it has returned. Main thread only (SIGALRM)."""

    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# JSON-like values: what a decoded message body can hold.
JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
