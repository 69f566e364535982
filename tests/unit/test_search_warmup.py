"""Warm start of search workers: at process boot only, never when a process merely registers
the actors (a CLI that sends messages)."""

from __future__ import annotations

import sys

from structlog.testing import capture_logs

from documind_search.warmup import WarmUp


def test_registering_loads_no_model_and_opens_no_index(clean_env, tmp_path):
    clean_env.setenv("DOCUMIND_DATA_DIR", str(tmp_path))
    from documind_search.worker import setup

    loaded_before = "sentence_transformers" in sys.modules
    broker = setup()
    try:
        assert any(isinstance(m, WarmUp) for m in broker.middleware)
        assert not (tmp_path / "qdrant").exists()  # the local-mode folder was not opened
        assert loaded_before or "sentence_transformers" not in sys.modules
    finally:
        broker.close()


def test_warm_up_disabled_by_setting(clean_env, tmp_path):
    clean_env.setenv("DOCUMIND_DATA_DIR", str(tmp_path))
    clean_env.setenv("DOCUMIND_SEARCH_WARM_UP", "false")
    from documind_search.worker import setup

    broker = setup()
    try:
        assert not any(isinstance(m, WarmUp) for m in broker.middleware)
    finally:
        broker.close()


def test_process_boot_runs_the_warm_up_and_survives_its_failure():
    calls = []
    WarmUp(lambda: calls.append(1)).after_process_boot(None)  # type: ignore[arg-type]
    assert calls == [1]

    def broken() -> None:
        raise RuntimeError("collection has the old layout")

    with capture_logs() as logs:
        WarmUp(broken).after_process_boot(None)  # type: ignore[arg-type]
    assert logs[-1]["event"] == "search warm-up failed" and "old layout" in logs[-1]["error"]
