"""Every logger writes JSON lines: DocuMind's structlog loggers, the standard library's
(libraries, warnings) and Dramatiq's inside a real worker process, whose CLI has already given
the process a plain-text root handler before our set-up runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import logging, sys, warnings
    # What Dramatiq's CLI does in each worker process before importing the broker module.
    from dramatiq.cli import LOGFORMAT
    logging.basicConfig(level=logging.DEBUG, format=LOGFORMAT, stream=sys.stderr)

    from documind.logging import configure_logging, get_logger
    from structlog.contextvars import bound_contextvars
    configure_logging("INFO", json=True)

    with bound_contextvars(document_id="doc-1"):
        get_logger("documind.test").info("structlog line", n=1)
        logging.getLogger("dramatiq.worker.Worker").info("dramatiq line")
    logging.getLogger("sqlalchemy.pool").warning("library warning")
    logging.getLogger("sqlalchemy.pool").info("library info is below the threshold")
    logging.getLogger("transformers").warning("noisy library warning is dropped")
    warnings.warn("a deprecated thing", UserWarning)
    try:
        1 / 0
    except ZeroDivisionError:
        logging.getLogger("qdrant_client").exception("library error")
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "default"}


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_logger_writes_json_lines() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = _json_lines(proc.stderr)  # raises on any line that is not JSON
    events = {line["event"]: line for line in lines}

    assert events["structlog line"]["document_id"] == "doc-1" and events["structlog line"]["n"] == 1
    dramatiq_line = events["dramatiq line"]
    assert dramatiq_line["logger"] == "dramatiq.worker.Worker" and dramatiq_line["level"] == "info"
    assert dramatiq_line["document_id"] == "doc-1"  # bound context reaches stdlib records too
    assert events["library warning"]["level"] == "warning"
    error = events["library error"]
    assert error["level"] == "error" and "ZeroDivisionError" in error["exception"]
    assert any("a deprecated thing" in line["event"] and line["logger"] == "py.warnings" for line in lines)
    assert "library info is below the threshold" not in events
    assert "noisy library warning is dropped" not in events
    assert all("timestamp" in line and "level" in line for line in lines)


def test_console_format_when_json_is_off() -> None:
    script = SCRIPT.replace('configure_logging("INFO", json=True)', 'configure_logging("INFO", json=False)')
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "dramatiq line" in proc.stderr and not proc.stderr.lstrip().startswith("{")


def test_a_dramatiq_worker_process_logs_json(tmp_path: Path) -> None:
    """A real `dramatiq` run: the worker process's lines (Dramatiq's own included) are JSON.
    The supervising main process never imports DocuMind code; its few lines (boot, signals)
    keep Dramatiq's text format (README "Logs")."""
    (tmp_path / "logging_app.py").write_text(
        textwrap.dedent(
            """
            import dramatiq
            from dramatiq.brokers.stub import StubBroker
            from documind.logging import configure_logging
            dramatiq.set_broker(StubBroker())
            configure_logging("INFO", json=True)
            """
        )
    )
    env = {**_env(), "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "logging_app", "--processes", "1", "--threads", "1"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path,
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line.rstrip("\n"))
            if "is ready for action" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
        seen += rest.splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
    worker_lines = [line for line in seen if line.strip() and "[dramatiq.MainProcess]" not in line]
    parsed = [json.loads(line) for line in worker_lines]  # every worker-process line is JSON
    loggers = {p["logger"] for p in parsed}
    assert "dramatiq.WorkerProcess(0)" in loggers, seen
    assert "dramatiq.worker.Worker" in loggers, seen  # its shutdown lines
