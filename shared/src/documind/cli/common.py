"""What every ``documind`` command shares: the error line and exit codes, settings, the
tenant, a runtime (with in-process workers in embedded mode), JSON output, waiting for
documents and calling a service for an answer."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import click

EXIT_ERROR = 1
EXIT_DOCUMENTS_FAILED = 3
# How long an embedded command waits, after its documents are final, for the work that
# follows completion (enrichment summary, validation hand-off) before stopping its workers.
EMBEDDED_DRAIN_S = 60.0


class CliError(click.ClickException):
    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"documind: error: {self.format_message()}", err=True)


def cli_settings():  # noqa: ANN202
    from documind.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        raise CliError(str(exc)) from None


def resolve_tenant(tenant: str | None) -> str:
    """The --tenant given, else DOCUMIND_DEFAULT_TENANT; an invalid name is one error line
    (exit 1) before anything starts. Id-taking commands look documents up within this
    tenant only: another tenant's document answers "no such document", like a missing one,
    so ids never reveal what other tenants hold."""
    from documind.tenants import InvalidTenant, validate_tenant

    if tenant is None:
        return cli_settings().default_tenant  # validated with the settings
    try:
        return validate_tenant(tenant)
    except InvalidTenant as exc:
        raise CliError(str(exc)) from None


@contextmanager
def open_runtime(with_workers: bool, recover: bool = False) -> Iterator[Any]:
    """A runtime; in embedded mode with ``with_workers`` also the in-process workers
    (``recover``: first re-drive documents an interrupted embedded process left unfinished;
    their ids are in ``runtime.recovered``). When ``documind serve`` runs on the data folder,
    its workers do the work instead: this runtime's messages go there."""
    from documind.runtime import build_runtime
    from documind.settings import RunMode

    settings = cli_settings()
    embedded_work = with_workers and settings.mode is RunMode.EMBEDDED
    server = find_local_server(settings) if embedded_work else None
    try:
        runtime = build_runtime(settings, configure_logs=False, local_server=server)
    except Exception as exc:  # noqa: BLE001 - e.g. database unreachable: one line, not a trace
        raise CliError(f"cannot start: {exc}") from None  # a StartupError: its cause, secrets masked
    from documind.logging import configure_logging

    # The CLI's stdout is for results; workers' logs go to stderr, quiet unless they warn.
    configure_logging(os.environ.get("DOCUMIND_CLI_LOG_LEVEL", "WARNING"), settings.log_json)
    workers = None
    drain_s = 0.0
    try:
        if embedded_work and server is None:
            from documind.embedded import EmbeddedWorkers

            workers = EmbeddedWorkers(runtime, recover=recover)
            workers.start()
        # With a server, it re-drove the folder's unfinished documents when it started.
        runtime.recovered = workers.recovered if workers else []  # type: ignore[attr-defined]
        yield runtime
        drain_s = EMBEDDED_DRAIN_S  # a normal end: let follow-up work finish (not on Ctrl-C or errors)
    finally:
        if workers is not None:
            workers.stop(drain_s)
        runtime.close()


def find_local_server(settings: Any) -> Any:
    """The running ``documind serve`` of this data folder (a LocalClient), or None."""
    from documind.local_server import LocalClient

    return LocalClient.find(settings.data_dir)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def document_dict(doc: Any, with_stages: bool = True) -> dict[str, Any]:
    from documind.status_view import stage_dict, view_fields

    data: dict[str, Any] = {
        "id": doc.id,
        "tenant": doc.tenant,
        "source_name": doc.source_name,
        "status": doc.status.value,
        "stage": doc.stage.value if doc.stage else None,
        "generation": doc.generation,
        "mime_type": doc.mime_type,
        "size_bytes": doc.size_bytes,
        "sha256": doc.sha256,
        "chunk_count": doc.chunk_count,
        "error": doc.error,
        "metadata": doc.metadata_ or {},
        "created_at": doc.created_at.isoformat() + "Z" if doc.created_at else None,
        "completed_at": doc.completed_at.isoformat() + "Z" if doc.completed_at else None,
        "lane": doc.lane.value if doc.lane else None,
    }
    if with_stages:
        # phase / progress / heartbeat_age_s / final: the display view (status_view).
        data.update(view_fields(doc))
        data["stages"] = [stage_dict(s) for s in doc.stages]
    return data


def wait_final(rt: Any, ids: list[str], timeout: float, quiet: bool) -> None:
    """Aggregate polling with backoff (documind.waiting); a progress bar on a terminal."""
    from tqdm import tqdm

    from documind.waiting import DocumentWaiter, Poll

    waiter = DocumentWaiter(rt.status, ids)
    show = not quiet and sys.stderr.isatty()
    with tqdm(total=len(waiter.pending), desc="process", unit="doc", disable=not show, file=sys.stderr) as bar:

        def on_poll(poll: Poll) -> None:
            bar.update(len(poll.finished))
            bar.set_postfix(poll.counts, refresh=True)
            if not quiet:
                for f in poll.finished:
                    if f.status.value == "failed":
                        tqdm.write(f"documind: {f.document_id} failed: {f.error}", file=sys.stderr)

        if not waiter.wait(on_poll, timeout_s=timeout):
            raise CliError(f"timed out with {len(waiter.pending)} document(s) not final")


def call_service(rt: Any, request: Any, timeout: float) -> Any:
    from dramatiq.results import ResultFailure, ResultTimeout

    from documind.settings import RunMode

    try:
        return rt.bus.call(request, timeout_s=timeout)
    except ResultTimeout:
        embedded = rt.settings.mode is RunMode.EMBEDDED
        raise CliError(no_answer_reason(request.QUEUE, timeout, embedded=embedded)) from None
    except ResultFailure as exc:
        raise CliError(str(exc.orig_exc_msg if hasattr(exc, "orig_exc_msg") else exc)) from None


def no_answer_reason(queue: str, timeout: float, *, embedded: bool) -> str:
    """Why a request got no answer in time, without guessing wrong: in embedded mode the
    service runs inside this very command, so a missing worker cannot be the cause."""
    service = queue.split("_")[0]
    if embedded:
        return (
            f"the {service} service gave no answer within {timeout:g} s; in embedded mode it runs "
            f"inside this command, so the work was still going: give it longer with --timeout"
        )
    return (
        f"no answer from the {service} service within {timeout:g} s: no {service} worker is "
        f"consuming queue {queue!r}, or its backlog is longer than that (see `documind status`); "
        f"give it longer with --timeout"
    )


@contextmanager
def service_caller(timeout: float) -> Iterator[Any]:
    """A function ``ask(request) -> answer`` for a command that only needs a service's answer
    (a search). With ``documind serve`` running on the data folder, the request goes straight
    to it: no runtime, no database, no model here, so the command costs a fraction of a
    second. Otherwise as any command: :func:`open_runtime` and :func:`call_service`."""
    from documind.settings import RunMode

    settings = cli_settings()
    server = find_local_server(settings) if settings.mode is RunMode.EMBEDDED else None
    if server is not None:
        yield lambda request: server.call(request, timeout)
        return
    with open_runtime(with_workers=True) as rt:
        yield lambda request: call_service(rt, request, timeout)
