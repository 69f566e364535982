"""The ``documind`` command line.

Embedded mode (the default) runs every installed service's actors inside this process, so a
command that needs work done (``ingest``, ``search``, ``delete``) starts in-process workers
and returns when the work is final. Distributed mode only sends messages and reads the
database; worker processes (``documind worker SERVICE``) do the work.

Exit codes: 0 success; 1 error (one line on stderr); 2 usage error; 3 some documents failed.

One module per command group: ``documents`` (ingest, status, delete, rendition, cancel),
``search`` (search, analytics), ``index`` (index check/repair/reindex/optimize),
``labels`` (the classification taxonomy), ``show`` (a document's AI-processing results),
``model`` (model train/list/activate/rollback), ``validate`` (validation tasks), ``validators``
(the validator registry), ``audit`` (history and chain verification), ``operations`` (recover,
dead-letters, worker, migrate), ``maintenance`` (health, scheduler, collector, cleanup, cache,
backup, restore), ``serve`` (the long-lived embedded worker other commands talk to); ``common``
holds what they share.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from documind.cli.common import EXIT_ERROR
from documind.cli.documents import cancel, delete, ingest, rendition, status
from documind.cli.index import index
from documind.cli.labels import labels
from documind.cli.maintenance import backup, cache, cleanup, collector, health, restore, scheduler
from documind.cli.model import model
from documind.cli.operations import dead_letters, migrate, recover, worker
from documind.cli.search import analytics, search
from documind.cli.serve import serve
from documind.cli.show import show
from documind.cli.audit import audit
from documind.cli.validate import validate
from documind.cli.validators import validators
from documind.errors import DocumindError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="documind-shared")
def main() -> None:
    """DocuMind Workers: documents in, searchable chunks out."""


# One module per command group; the order here is the order of `documind --help`.
for command in (ingest, status, show, search, rendition, delete, cancel, recover, dead_letters, analytics, index,
                labels, model, validate, validators, audit, serve, worker, migrate, health, scheduler, collector,
                cleanup, cache, backup, restore):
    main.add_command(command)


def run() -> None:
    """Console entry point: any error is one line on stderr and exit code 1
    (set DOCUMIND_DEBUG=1 for the traceback)."""
    try:
        _run()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            exit_now(exc.code or 0)
        raise


def _run() -> None:
    try:
        main(standalone_mode=True)
    except DocumindError as exc:
        click.echo(f"documind: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("DOCUMIND_DEBUG"):
            raise
        click.echo(f"documind: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_ERROR)


def exit_now(code: int) -> NoReturn:
    """End the process without CPython's interpreter teardown: once a command has loaded torch,
    spaCy and unstructured (every embedded command that does work), freeing their thousands of
    modules took 1-4 s of each run. Everything a normal exit does that has an effect still
    happens, in the same order: non-daemon threads are joined, atexit handlers run (logging's
    flush and temporary folders' finalizers among them), stdout and stderr are flushed."""
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to deliver
            pass
    os._exit(code)
