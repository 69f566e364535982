"""Hung child processes (issue 10 item 3): every external tool ingest starts has a time limit
and is killed with its whole process group. The tools here are real processes: shell scripts
named ``soffice`` and ``tesseract``, first on PATH, that start a grandchild and then hang,
each writing its pid down so the test can tell that none is left behind."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import dramatiq
import pytest
from dramatiq.middleware.threading import raise_thread_exception
from dramatiq.middleware.time_limit import TimeLimitExceeded

from documind.broker import start_time_limits
from documind.contracts import ProcessDocument, Queues
from documind.db.models import DocumentStatus
from documind.errors import ToolTimedOut
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind.storage import content_key, sha256_of
from documind_ingest.bounded_child import run_bounded

HANG = """#!/bin/sh
# Answers the ingest worker's start-up language check, hangs on anything else.
case "$1" in --list-langs) printf 'List of available languages (2):\\neng\\nosd\\n'; exit 0;; esac
sleep 300 &
echo $! >> "$FAKE_TOOL_PIDS"
echo $$ >> "$FAKE_TOOL_PIDS"
wait
"""
LIMIT_S = 1


ORIGINAL_PATH = os.environ["PATH"]


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``soffice`` and ``tesseract`` that hang; returns the file their pids are written to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("soffice", "tesseract"):
        tool = bin_dir / name
        tool.write_text(HANG)
        tool.chmod(0o755)
    pids = tmp_path / "pids"
    pids.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TOOL_PIDS", str(pids))
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie is dead, only not yet reaped by its new parent


def assert_none_left(pids_file: Path, expected: int) -> None:
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == expected, "the fake tool did not run as often as expected"
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in pids if _alive(p)] == [], "a child or grandchild outlived the time limit"


# ---- run_bounded on its own ----------------------------------------------------------------


def test_a_hung_child_is_killed_with_its_grandchild(fake_tools: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ToolTimedOut) as caught:
        run_bounded(["soffice", "--headless"], timeout_s=LIMIT_S, tool="LibreOffice", task="converting")
    assert str(caught.value) == "LibreOffice did not finish converting within 1 s"
    assert time.monotonic() - started < LIMIT_S + 4
    assert_none_left(fake_tools, expected=2)


def test_output_and_exit_status_come_back() -> None:
    done = run_bounded(
        ["sh", "-c", "cat; echo to-stderr >&2; exit 3"], timeout_s=10, tool="sh", task="echoing", input=b"hello"
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, b"hello", b"to-stderr\n")


def test_a_time_limit_interrupt_kills_the_group_within_a_second(fake_tools: Path) -> None:
    """Dramatiq's TimeLimitExceeded lands between bytecodes: the wait must not block in C for
    the whole tool limit, and the interrupted child must not survive the worker's giving up."""
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            run_bounded(["tesseract", "page.png", "stdout"], timeout_s=120, tool="Tesseract", task="reading")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while len(fake_tools.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    interrupted = time.monotonic()
    raise_thread_exception(thread.ident, TimeLimitExceeded)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - interrupted < 4
    assert len(outcome) == 1 and isinstance(outcome[0], TimeLimitExceeded)
    assert_none_left(fake_tools, expected=2)


# ---- through the ingest worker: the document fails with the tool and its limit ------------


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path, fake_tools: Path) -> Iterator[Runtime]:
    from documind_ingest.worker import register

    settings = load_settings(
        data_dir=tmp_path / "data", ocr_languages="eng", ocr_timeout_s=LIMIT_S, convert_timeout_s=LIMIT_S,
        worker_threads=1, renditions=False,
    )
    rt = build_runtime(settings, configure_logs=False)
    register(rt)
    yield rt
    rt.close()


def _text_image() -> Any:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1000, 200), "white")
    ImageDraw.Draw(img).text((20, 60), "Quarterly report about glaciers", fill="black",
                             font=ImageFont.load_default(size=48))
    return img


def _ingest(runtime: Runtime, path: Path, name: str) -> str:
    sha = sha256_of(path)
    key = content_key("acme", sha)
    runtime.storage.put_file(key, path)
    reg = runtime.status.register(Upload(tenant="acme", source_name=name, sha256=sha, size_bytes=path.stat().st_size,
                                         storage_key=key))
    start_time_limits(runtime.broker)
    worker = dramatiq.Worker(runtime.broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        runtime.bus.send(ProcessDocument(document_id=reg.document_id, generation=reg.generation))
        runtime.broker.join(Queues.INGEST, fail_fast=False, timeout=60_000)
        worker.join()
    finally:
        worker.stop()
    return reg.document_id


def _scan(tmp_path: Path, kind: str, made_corpus) -> tuple[Path, str]:  # noqa: ANN001
    if kind == "doc":
        # Made by the real LibreOffice: the fake one is first on PATH now, so make it with the
        # PATH the session started with.
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PATH", ORIGINAL_PATH)
            return made_corpus / "legacy.doc", "letter.doc"
    path = tmp_path / f"scan.{kind}"
    _text_image().save(path, resolution=100.0) if kind == "pdf" else _text_image().save(path)
    return path, path.name


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("doc", "LibreOffice did not finish converting within 1 s"),
        ("png", "Tesseract did not finish reading the image within 1 s"),
        ("pdf", "Tesseract did not finish reading page 1 within 1 s"),
    ],
)
def test_a_hung_tool_fails_the_document_in_bounded_time(
    made_corpus, runtime: Runtime, tmp_path: Path, fake_tools: Path, kind: str, reason: str
) -> None:
    path, name = _scan(tmp_path, kind, made_corpus)
    started = time.monotonic()
    doc_id = _ingest(runtime, path, name)
    assert time.monotonic() - started < 30
    doc = runtime.status.get(doc_id)
    assert doc is not None
    assert (doc.status, doc.error) == (DocumentStatus.FAILED, reason)
    assert_none_left(fake_tools, expected=2)  # one run: a timeout is not retried
