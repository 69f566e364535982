"""``documind serve``: a long-lived embedded worker that other commands talk to."""

from __future__ import annotations

import signal
import threading

import click

from documind.cli.common import CliError, cli_settings, open_runtime


@click.command()
def serve() -> None:
    """Keep the embedded services running, so commands skip their start-up.

    While it runs, `documind search` in the same data folder sends its queries here (its
    model is loaded: an answer in a fraction of a second instead of several seconds of
    start-up); it also works through the folder's unfinished documents. Stop it with Ctrl-C
    or SIGTERM. Embedded mode only: in distributed mode the workers are the long-lived
    processes (`documind worker SERVICE`)."""
    from documind.broker import run_boot_hooks
    from documind.local_server import LocalServer
    from documind.settings import RunMode

    settings = cli_settings()
    if settings.mode is not RunMode.EMBEDDED:
        raise CliError("serve is for embedded mode; in distributed mode run `documind worker SERVICE`")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with open_runtime(with_workers=True, recover=True) as rt:
        run_boot_hooks(rt.broker)  # load the query model now, not on the first query
        server = LocalServer(rt, settings.data_dir)
        server.start()
        try:
            click.echo(f"serving {settings.data_dir.resolve()} on {server.path} (Ctrl-C stops)", err=True)
            stop.wait()
        finally:
            server.stop()
