"""`documind model ...`: fine-tune the embedding model (train), export it to ONNX Runtime
(export-onnx), see the versions (list), and switch the live index to a version (activate,
rollback). Training runs in the embed service, exporting in this process (offline, from the
version's files), activation (re-embedding every chunk into a new collection) in the search
service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from documind.cli.common import CliError, call_service, cli_settings, open_runtime, print_json

_TIMEOUT = click.option(
    "--timeout", default=6 * 3600.0, type=float, show_default=True, help="seconds to wait for the service"
)


@click.group()
def model() -> None:
    """Embedding model versions: fine-tune, list, activate, roll back."""


def _progress(row: dict[str, Any]) -> str:
    p = row.get("progress") or {}
    if not p:
        return ""
    loss = f" loss {p['loss']}" if p.get("loss") is not None else ""
    return f"step {p.get('step')}/{p.get('total')}{loss}"


def _metrics(row: dict[str, Any]) -> str:
    m = row.get("metrics") or {}
    if not m:
        return ""
    return f"{m['metric']} {m['candidate']} vs v{m['baseline_version']} {m['baseline']}"


@model.command("train")
@click.option("--pairs", "pairs_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TSV (query<TAB>passage per line) or .jsonl ({\"query\", \"passage\"} per line)")
@click.option("--epochs", type=click.IntRange(1, 100), default=None, help="default: DOCUMIND_FINETUNE_EPOCHS")
@click.option("--held-out", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="share of queries held out to judge the model; default: DOCUMIND_FINETUNE_HELD_OUT")
@click.option("--batch-size", type=click.IntRange(2, 1024), default=None, help="default: DOCUMIND_FINETUNE_BATCH_SIZE")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="stop after this many steps (a quick trial)")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="wait for the result (embedded mode always waits: the job runs in this process)")
@_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def model_train(pairs_file: Path, epochs: int | None, held_out: float | None, batch_size: int | None,
                max_steps: int | None, wait: bool, timeout: float, as_json: bool) -> None:
    """Fine-tune the active model on (query, passage) pairs as a background job; the result
    becomes a `candidate` version only if it beats the active model on the held-out pairs."""
    from documind.contracts import TrainModel
    from documind.model_registry import build_registry
    from documind.pairs import parse_pairs
    from documind.settings import RunMode
    from documind.storage import sha256_of

    data = pairs_file.read_bytes()
    pairs = parse_pairs(data, pairs_file.name)  # a bad file fails here, before any job
    if len(pairs) < 4:
        raise CliError(f"{pairs_file}: {len(pairs)} pairs; fine-tuning needs at least 4")
    with open_runtime(with_workers=True) as rt:
        st = rt.settings
        registry = build_registry(rt)
        suffix = ".jsonl" if pairs_file.name.lower().endswith(".jsonl") else ".tsv"
        key = f"models/pairs/{sha256_of(pairs_file)}{suffix}"
        rt.storage.put_bytes(key, data)
        params = {
            "epochs": epochs or st.finetune_epochs, "held_out": held_out or st.finetune_held_out,
            "batch_size": batch_size or st.finetune_batch_size, "learning_rate": st.finetune_learning_rate,
            "max_steps": max_steps, "pairs": len(pairs), "seed": 13,
        }
        # An ONNX export cannot be trained: its torch source is.
        version = registry.create(parent=registry.torch_source(registry.active()), pairs_path=key, params=params)
        request = TrainModel(version=version)
        if wait or st.mode is RunMode.EMBEDDED:
            try:
                call_service(rt, request, timeout)
            except CliError as exc:
                raise CliError(f"model version {version}: {exc}") from None
            row = registry.row(version)
        else:
            rt.bus.send(request)
            row = registry.row(version)
    if as_json:
        print_json(row)
        return
    click.echo(f"model version {row['version']} ({row['name']}): {row['status']} {_metrics(row)}".rstrip())
    if row.get("error"):
        click.echo(f"  {row['error']}")
    if row["status"] == "candidate":
        click.echo(f"  activate it with: documind model activate {row['version']}")


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def model_list(as_json: bool) -> None:
    """Every model version: status, training progress, evaluation."""
    from documind.model_registry import build_registry

    with open_runtime(with_workers=False) as rt:
        rows = build_registry(rt).list()
    if as_json:
        print_json(rows)
        return
    click.echo(f"{'version':>7}  {'status':<9}  {'name':<32}  {'backend':<9}  {'progress':<24}  evaluation")
    for r in rows:
        click.echo(f"{r['version']:>7}  {r['status']:<9}  {r['name']:<32}  {r.get('backend', 'torch'):<9}  "
                   f"{_progress(r):<24}  {_metrics(r)}")


@model.command("export-onnx")
@click.option("--from", "source", type=click.IntRange(1), default=None,
              help="the version to export (default: the active one, or the torch model it was exported from)")
@click.option("--int8/--fp32", default=True, show_default=True,
              help="dynamic int8 quantization of the weights (faster, vectors slightly further from the source)")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def model_export_onnx(source: int | None, int8: bool, as_json: bool) -> None:
    """Export a torch version to ONNX Runtime into the file store and register it as a
    `candidate` version with backend onnx-int8 (or onnx-fp32); `model activate` then re-embeds
    every chunk with it. Offline: made from the version's own files."""
    import shutil
    import time

    from documind.db.models import ModelStatus
    from documind.model_registry import build_registry
    from documind.onnx_model import ONNX_FP32, ONNX_INT8, export

    with open_runtime(with_workers=False) as rt:
        st = rt.settings
        registry = build_registry(rt)
        ref = registry.get(source) if source is not None else registry.active()
        # Version 1 may run on its int8 export (DOCUMIND_ENCODER_BACKEND): it exports the package's torch model.
        if source not in (None, 1) and ref.backend != "torch":
            raise CliError(f"model version {source} is an {ref.backend} export already; export its torch source")
        ref = registry.torch_source(ref)
        backend = ONNX_INT8 if int8 else ONNX_FP32
        version = registry.create_export(source=ref, backend=backend, params={"source_version": ref.version})
        key = f"models/v{version}"
        out = st.effective_storage_dir / key
        started = time.monotonic()
        try:
            if out.exists():
                shutil.rmtree(out)
            config = export(ref.path, out, int8=int8, threads=st.torch_threads)
        except BaseException as exc:  # noqa: BLE001 - the row must end, Ctrl-C included
            registry.update(version, status=ModelStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            if isinstance(exc, Exception):
                raise CliError(f"model version {version}: export failed: {type(exc).__name__}: {exc}") from None
            raise
        registry.update(
            version, status=ModelStatus.CANDIDATE, path=key, train_seconds=round(time.monotonic() - started, 2),
            params={"source_version": ref.version, "pooling": config.pooling, "normalize": config.normalize,
                    "max_seq_length": config.max_seq_length},
        )
        row = registry.row(version)
    if as_json:
        print_json(row)
        return
    click.echo(f"model version {row['version']} ({row['name']}): {row['status']}, {backend} export of "
               f"version {ref.version} in {row['train_seconds']} s")
    click.echo(f"  activate it with: documind model activate {row['version']}")


@model.command("build-default")
@click.option("--model", "model_name", default=None,
              help="the packaged model (default: DOCUMIND_EMBEDDING_MODEL)")
@click.option("--force", is_flag=True, help="rebuild even if an export of the installed model is there")
def model_build_default(model_name: str | None, force: bool) -> None:
    """Build the int8 ONNX Runtime export of the packaged model that the onnx-int8 encoder
    backend (DOCUMIND_ENCODER_BACKEND, the default) runs, into this Python environment
    (share/documind/encoders). Offline, from the package's files; scripts/install.sh and the
    embed/search Docker images run it. Needs no database."""
    from documind.embedding import model_path, packaged_export_dir
    from documind.onnx_model import ONNX_INT8, build_packaged

    name = model_name or cli_settings().embedding_model
    try:
        out = packaged_export_dir(name, ONNX_INT8)
        built = build_packaged(model_path(name), out, backend=ONNX_INT8, force=force)
    except (ValueError, OSError) as exc:
        raise CliError(f"cannot build the {ONNX_INT8} export of {name}: {exc}") from None
    click.echo(f"{name} {ONNX_INT8}: {'built' if built else 'up to date'} at {out}")


def _activate(version: int, timeout: float, as_json: bool) -> None:
    from documind.contracts import ActivateModel
    from documind.model_registry import build_registry

    with open_runtime(with_workers=True) as rt:
        build_registry(rt).check_activatable(version)  # refuse early, with the reason
        result = call_service(rt, ActivateModel(version=version), timeout)
    if as_json:
        print_json(result)
        return
    click.echo(
        f"model version {result['version']} active (was {result['previous_version']}): {result['alias']} -> "
        f"{result['new_collection']}, {result.get('points_reembedded', result.get('points_copied'))} points "
        f"re-embedded, {result['points']} points, {result['seconds']} s"
    )


@model.command("activate")
@click.argument("version", type=click.IntRange(1))
@_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def model_activate(version: int, timeout: float, as_json: bool) -> None:
    """Re-embed every chunk with VERSION into a new collection and switch search to it
    (search keeps answering from the current collection until the switch)."""
    _activate(version, timeout, as_json)


@model.command("rollback")
@_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def model_rollback(timeout: float, as_json: bool) -> None:
    """Re-activate the version that was active before the current one (re-embedding again)."""
    from documind.model_registry import build_registry

    with open_runtime(with_workers=False) as rt:
        target = build_registry(rt).rollback_target()
    _activate(target, timeout, as_json)
