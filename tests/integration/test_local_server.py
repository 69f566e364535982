"""``documind serve``: a long-lived embedded worker that commands talk to (embedded mode).

Commands run while it serves must give the answers they give without it (search, ingest,
delete with its cache invalidation), bad requests on its socket must not stop it, and a
stopped or killed server must leave the folder usable by commands on their own again."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.harness import DOCUMIND, Stack, embedded_stack

DOCS = {
    "heron.txt": "The grey heron stands motionless in shallow water, waiting to spear a passing fish with its bill.",
    "kiln.txt": "A pottery kiln is fired slowly to about twelve hundred degrees so the glaze can vitrify evenly.",
}


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    s = embedded_stack(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    docs = s.ingest(folder)
    assert [d["status"] for d in docs] == ["completed", "completed"], docs
    return s


def _socket(stack: Stack) -> Path:
    return Path(stack.env["DOCUMIND_DATA_DIR"]).resolve() / "documind.sock"


@pytest.fixture
def server(stack: Stack) -> Iterator[subprocess.Popen]:
    log = (stack.root / "serve.log").open("w")
    proc = subprocess.Popen([DOCUMIND, "serve"], env=stack.env, cwd=stack.root, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while "serving" not in (stack.root / "serve.log").read_text():
        assert proc.poll() is None, (stack.root / "serve.log").read_text()
        assert time.monotonic() < deadline, "documind serve did not come up in 180 s"
        time.sleep(0.2)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    log.close()


def _ids(hits: list[dict]) -> list[str]:
    return [h["document_id"] for h in hits]


def test_commands_answer_through_the_server_as_without_it(stack: Stack, server: subprocess.Popen) -> None:
    # Each command below would fail on the folder lock the server holds if it started workers
    # of its own: passing means the server answered.
    before = stack.cli("search", "bird waiting to catch fish", "--top-k", "2", "--json")
    heron = _ids(before.json()["hits"])[0]
    assert stack.status(heron)["source_name"].endswith("heron.txt")
    # An ingest while serving: its work runs in the server (this command takes no folder lock).
    extra = stack.root / "tea.txt"
    extra.write_text("Green tea leaves are steamed right after picking, which keeps them from oxidizing.")
    [tea] = stack.ingest(extra)
    assert tea["status"] == "completed"
    assert _ids(stack.search("steamed tea leaves", 1)) == [tea["id"]]
    # Delete: the server's result cache was filled by the search above and must not answer
    # from before the deletion (the command's index-version bump reaches the server).
    stack.cli("delete", tea["id"])
    assert tea["id"] not in _ids(stack.search("steamed tea leaves", 3))
    assert server.poll() is None


def test_bad_requests_get_an_answer_and_the_server_keeps_serving(stack: Stack, server: subprocess.Popen) -> None:
    for raw in (b"not json\n", b"[1, 2]\n", b'{"actor": "no.such_actor", "payload": {}}\n',
                b'{"actor": "search.query", "payload": {"query": ""}}\n'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(str(_socket(stack)))
            sock.sendall(raw)
            answer = json.loads(sock.makefile("rb").readline())
        assert answer["ok"] is False and answer["error"], (raw, answer)
    assert stack.search("pottery glaze", 1)[0]["source_name"].endswith("kiln.txt")


def test_a_stopped_or_killed_server_leaves_the_folder_to_commands(stack: Stack, server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    assert not _socket(stack).exists()
    assert stack.search("pottery glaze", 1)[0]["source_name"].endswith("kiln.txt")  # in-process again

    # Killed: its socket file stays behind, nobody listens; commands notice and work alone.
    log = (stack.root / "serve2.log").open("w")
    again = subprocess.Popen([DOCUMIND, "serve"], env=stack.env, cwd=stack.root, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while "serving" not in (stack.root / "serve2.log").read_text():
        assert again.poll() is None and time.monotonic() < deadline, (stack.root / "serve2.log").read_text()
        time.sleep(0.2)
    again.kill()
    again.wait(timeout=60)
    log.close()
    assert _socket(stack).exists()
    assert stack.search("heron fishing", 1)[0]["source_name"].endswith("heron.txt")


def test_serve_refuses_distributed_mode(tmp_path: Path) -> None:
    env = dict(embedded_stack(tmp_path).env, DOCUMIND_MODE="distributed")
    proc = subprocess.run([DOCUMIND, "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "serve is for embedded mode" in proc.stderr
