"""A long-lived embedded worker that CLI commands talk to, so they skip the start-up.

Embedded mode runs the services inside the command's own process, so every ``documind
search`` paid for importing torch, sentence-transformers and qdrant-client and for loading
the model (seconds) before a query that takes milliseconds. ``documind serve`` keeps one
embedded process running (it holds the data folder lock, as any embedded worker does) and
answers requests on a Unix socket in the data folder; commands that find it running send
their request there instead of starting workers of their own. Without it, nothing changes:
the no-server default stays the default.

A command that finds the server builds its runtime with :class:`ServerBus` and
:class:`ServerIndexVersions`: its messages go to the server's in-process broker, and its own
status changes (a registration, a deletion) bump the server's index versions, so the
server's search cache never answers from before them. Reads and writes of the database are
the command's own (SQLite in WAL mode takes both processes).

Protocol: one JSON line per connection, ``{"actor", "payload", "timeout_s"}`` for a call (the
contract's actor name and payload, as on the broker), ``{"send": true, ...}`` to enqueue
without waiting, ``{"bump": TENANT}`` for an index-version bump; the answer is one JSON line
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``. The socket is created
owner-only: it is as private as the folder.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any

from documind.contracts import Contract, known_contracts
from documind.errors import DocumindError

SOCKET_NAME = "documind.sock"
# Unix socket paths are limited to 107 bytes on Linux (sun_path).
_MAX_SOCKET_PATH = 107
_MAX_REQUEST_BYTES = 16 * 1024 * 1024


class LocalServerError(DocumindError):
    """The running local worker refused or failed a request; the message says why."""


def socket_path(data_dir: Path) -> Path:
    return data_dir.resolve() / SOCKET_NAME


class LocalClient:
    """Talks to a running ``documind serve``; :meth:`find` returns None when none runs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def find(cls, data_dir: Path) -> "LocalClient | None":
        path = socket_path(data_dir)
        if not path.exists() or len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            return None
        client = cls(path)
        try:
            with client._connect(timeout_s=2.0):
                return client
        except OSError:  # a socket left by a server that died: nobody listens
            return None

    def call(self, contract: Contract, timeout_s: float) -> Any:
        return self._request({"actor": contract.actor, "payload": contract.payload(), "timeout_s": timeout_s},
                             timeout_s)

    def send(self, contract: Contract) -> None:
        self._request({"actor": contract.actor, "payload": contract.payload(), "send": True}, 30.0)

    def bump(self, tenant: str) -> int:
        return int(self._request({"bump": tenant}, 30.0))

    def _connect(self, timeout_s: float) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            raise
        return sock

    def _request(self, request: dict[str, Any], timeout_s: float) -> Any:
        # The server answers within the request's own deadline; a little more for the wire.
        with self._connect(timeout_s + 10.0) as sock:
            sock.sendall(json.dumps(request).encode() + b"\n")
            reply = _read_line(sock)
        answer = json.loads(reply)
        if not answer.get("ok"):
            raise LocalServerError(answer.get("error") or "the local worker failed the request")
        return answer.get("result")


def _read_line(sock: socket.socket) -> bytes:
    data = bytearray()
    while not data.endswith(b"\n"):
        part = sock.recv(65536)
        if not part:
            break
        data += part
        if len(data) > _MAX_REQUEST_BYTES * 8:
            raise LocalServerError("answer too large")
    return bytes(data)


class LocalServer:
    """Serves the requests of :class:`LocalClient` with a runtime whose embedded workers run."""

    def __init__(self, runtime: Any, data_dir: Path) -> None:
        self.runtime = runtime
        self.path = socket_path(data_dir)
        if len(os.fsencode(self.path)) > _MAX_SOCKET_PATH:
            raise DocumindError(f"the data folder's path is too long for a Unix socket: {self.path}")
        self.contracts = known_contracts()
        handler = self._handler()
        if self.path.exists():
            self.path.unlink()  # we hold the data folder lock: no other server can own it
        old_umask = os.umask(0o177)  # owner-only socket, from the moment it exists
        try:
            self.server = socketserver.ThreadingUnixStreamServer(str(self.path), handler)
        finally:
            os.umask(old_umask)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.path.unlink(missing_ok=True)

    def answer(self, raw: bytes) -> dict[str, Any]:
        try:
            request = json.loads(raw)
        except ValueError:
            return {"ok": False, "error": "a request is one line of JSON"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        try:
            if "bump" in request:
                return {"ok": True, "result": self.runtime.versions.bump(str(request["bump"]))}
            contract_type = self.contracts.get(request.get("actor"))  # type: ignore[arg-type]
            if contract_type is None:
                raise LocalServerError(f"unknown actor {request.get('actor')!r}")
            contract = contract_type.parse(request.get("payload"))
            if request.get("send"):
                self.runtime.bus.send(contract)
                return {"ok": True, "result": None}
            timeout_s = float(request.get("timeout_s") or 60.0)
            return {"ok": True, "result": self.runtime.bus.call(contract, timeout_s=timeout_s)}
        except Exception as exc:  # noqa: BLE001 - every failure is an answer, never a dropped connection
            return {"ok": False, "error": _describe(exc, request)}

    def _handler(self) -> type[socketserver.StreamRequestHandler]:
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                raw = self.rfile.readline(_MAX_REQUEST_BYTES)
                if not raw:
                    return
                reply = server.answer(raw)
                self.wfile.write(json.dumps(reply, default=str).encode() + b"\n")

        return Handler


class ServerBus:
    """The bus of a command whose services run in ``documind serve``: same calls as
    :class:`documind.bus.Bus`, over the socket."""

    def __init__(self, client: LocalClient) -> None:
        self.client = client

    def send(self, contract: Contract, delay_ms: int | None = None) -> None:
        if delay_ms:
            raise LocalServerError("a delayed send cannot go to the local worker")
        self.client.send(contract)

    def call(self, contract: Contract, timeout_s: float = 60.0) -> Any:
        return self.client.call(contract, timeout_s)


class ServerIndexVersions:
    """Index versions live in the server's memory (embedded mode): bumps go there."""

    def __init__(self, client: LocalClient) -> None:
        self.client = client

    def bump(self, tenant: str) -> int:
        return self.client.bump(tenant)

    def current(self, tenant: str) -> int:
        # Only the search service reads versions, and it runs in the server.
        raise LocalServerError("index versions are read by the search service, in the local worker")


def _describe(exc: BaseException, request: dict[str, Any]) -> str:
    from dramatiq.results import ResultFailure, ResultTimeout

    if isinstance(exc, ResultTimeout):
        return f"the local worker gave no answer within {float(request.get('timeout_s') or 0):g} s: give it longer with --timeout"
    if isinstance(exc, ResultFailure):
        return str(getattr(exc, "orig_exc_msg", None) or exc)
    return str(exc) or type(exc).__name__
