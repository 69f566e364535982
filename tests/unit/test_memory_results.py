"""The embedded mode's results backend: a waiter wakes when its result is stored (no polling
sleep), times out when none comes, and passes an actor's failure on like Dramatiq's backends."""

from __future__ import annotations

import threading

import dramatiq
import pytest
from dramatiq.results import ResultFailure, ResultMissing, ResultTimeout

import dramatiq.results.backend as backend_module
from dramatiq.results.backend import Missing
from documind.memory_results import MemoryResults


def message(n: int = 0) -> dramatiq.Message:
    return dramatiq.Message(queue_name="search_query", actor_name="search.search", args=(n,), kwargs={}, options={})


@pytest.fixture
def no_polling(monkeypatch):
    def sleep(_s: float) -> None:
        raise AssertionError("the waiter polled instead of waiting for the store")

    monkeypatch.setattr(backend_module.time, "sleep", sleep)


def test_a_stored_result_wakes_the_waiter(no_polling):
    results, msg = MemoryResults(), message(1)
    missed = threading.Event()  # the waiter looked once and found nothing: it must now wait
    look = results._get

    def get(key: str):  # noqa: ANN202
        found = look(key)
        if found is Missing:
            missed.set()
        return found

    results._get = get  # type: ignore[method-assign]
    got: list = []
    t = threading.Thread(target=lambda: got.append(results.get_result(msg, block=True, timeout=60_000)))
    t.start()
    missed.wait(60)
    results.store_result(msg, {"hits": [1, 2]}, ttl=60_000)
    t.join(60)
    assert got == [{"hits": [1, 2]}]


def test_a_result_stored_before_the_wait_is_returned(no_polling):
    results, msg = MemoryResults(), message(2)
    results.store_result(msg, "ready", ttl=60_000)
    assert results.get_result(msg, block=True, timeout=1_000) == "ready"
    assert results.get_result(msg) == "ready"


def test_only_its_own_result_ends_a_wait():
    results, msg, other = MemoryResults(), message(3), message(4)
    results.store_result(other, "not mine", ttl=60_000)
    with pytest.raises(ResultTimeout):
        results.get_result(msg, block=True, timeout=50)
    with pytest.raises(ResultMissing):
        results.get_result(msg)


def test_an_actor_failure_reaches_the_caller(no_polling):
    results, msg = MemoryResults(), message(5)
    results.store_exception(msg, ValueError("bad query"), ttl=60_000)
    with pytest.raises(ResultFailure, match="bad query"):
        results.get_result(msg, block=True, timeout=1_000)


def test_the_embedded_mode_uses_it(clean_env, tmp_path):
    from documind.broker import build_results_backend
    from documind.settings import load_settings

    clean_env.setenv("DOCUMIND_MODE", "embedded")
    clean_env.setenv("DOCUMIND_DATA_DIR", str(tmp_path))
    assert isinstance(build_results_backend(load_settings()), MemoryResults)
