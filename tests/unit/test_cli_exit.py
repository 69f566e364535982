"""The ``documind`` entry point ends the process itself (cli.exit_now, skipping CPython's
teardown); what a normal exit delivers must still be delivered: the exit code, everything
printed, atexit handlers, the work of non-daemon threads."""

from __future__ import annotations

import subprocess
import sys

# Runs the real entry point (``documind --version`` or a failing command) with a non-daemon
# thread and an atexit handler of its own.
PROBE = """
import atexit, sys, threading, time
sys.argv = ["documind", *sys.argv[1:]]
atexit.register(lambda: print("atexit ran", flush=False))
def late():
    time.sleep(0.3)
    sys.stdout.write("thread finished\\n")
threading.Thread(target=late).start()
from documind.cli import run
run()
"""


def probe(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=env)


def test_output_threads_and_atexit_survive_a_successful_exit():
    proc = probe("--version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "version" in lines[0]
    assert lines[1:] == ["thread finished", "atexit ran"]


def test_the_exit_code_and_error_line_survive(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCUMIND_")}
    env.update(DOCUMIND_MODE="embedded", DOCUMIND_DATA_DIR=str(tmp_path))
    proc = probe("status", "no-such-document", env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "documind: error: no such document: no-such-document"
    assert proc.stdout.splitlines() == ["thread finished", "atexit ran"]


def test_a_usage_error_keeps_exit_code_2():
    proc = probe("no-such-command")
    assert proc.returncode == 2
    assert "No such command" in proc.stderr
