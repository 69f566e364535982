"""Every child process ingest starts (LibreOffice, pandoc, Tesseract, OCRmyPDF) runs through
:func:`run_bounded`: it gets a time limit and, when the limit passes or the worker gives up on
it (Dramatiq's time limit, shutdown), it is killed together with everything it started.

Why a process group: ``soffice`` is a launcher that starts ``soffice.bin``, OCRmyPDF starts
Tesseract; killing only the direct child leaves the real worker running, holding the output
pipe open, so ``communicate()`` would wait on it forever while the stage's heartbeat stays
fresh. The child starts its own session (``start_new_session``), so its process id is the
group id and ``os.killpg`` reaches every descendant that did not leave the group itself."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Mapping, Sequence

from documind.errors import ToolTimedOut

# ``communicate`` blocks in C (select) and Dramatiq delivers its TimeLimitExceeded only
# between bytecodes: waiting in short slices lets that exception land within a second.
WAIT_SLICE_S = 1.0
# After SIGKILL the pipes close at once; this only bounds the wait for a descendant that
# escaped the group and still holds a pipe.
REAP_S = 5.0


def run_bounded(
    command: Sequence[str],
    *,
    timeout_s: float,
    tool: str,
    task: str,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` to completion within ``timeout_s`` seconds and return its output (bytes).

    On timeout the child's process group is killed and :class:`ToolTimedOut` is raised with
    a user-facing reason: "``tool`` did not finish ``task`` within ``timeout_s`` s". Any
    other interruption (e.g. TimeLimitExceeded) kills the group too and propagates. A
    non-zero exit status is returned, not raised: each caller knows what it means."""
    proc = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    pending_input = input
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout_s)
            try:
                out, err = proc.communicate(pending_input, timeout=min(remaining, WAIT_SLICE_S))
                break
            except subprocess.TimeoutExpired:
                pending_input = None  # communicate keeps feeding what it was given first
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise ToolTimedOut(f"{tool} did not finish {task} within {timeout_s:g} s") from None
    except BaseException:
        _kill(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group is gone already
    except PermissionError:  # pragma: no cover - the group id was reused: kill the child only
        proc.kill()
    try:
        proc.communicate(timeout=REAP_S)  # reaps the child and closes our pipe ends
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait(timeout=REAP_S)
