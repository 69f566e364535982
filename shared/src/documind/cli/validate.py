"""``documind validate``: a validator's and a lead's commands (next, show, approve,
correct, reject, release, batch, flag, assign, export). Tasks are taken and answered
against the database directly; corrections and rejections send ``revision`` messages to
the embed and search services (in embedded mode this process runs them and waits)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from documind.cli.common import CliError, open_runtime, print_json, resolve_tenant

REVISION_QUEUES = ("validate", "embed", "embed_bulk", "search", "search_bulk")


@contextmanager
def _validation(with_workers: bool = False) -> Iterator[Any]:
    """The runtime and the validation objects over it; validation refusals are one line."""
    from documind.validation.answers import Answers
    from documind.validation.assignment import Assignment
    from documind.validation.errors import ValidationRefused

    with open_runtime(with_workers=with_workers) as rt:
        st = rt.settings
        assignment = Assignment(rt.sessions, st.validation_assign_timeout_s)
        rt.assignment = assignment
        rt.answers = Answers(rt.sessions, assignment, rt.bus.send, rt.versions, rt.settings.classifier_min_validated)
        try:
            yield rt
        except ValidationRefused as exc:
            raise CliError(str(exc)) from None
        _drain(rt)


def _drain(rt: Any) -> None:
    """Embedded mode: the messages sent run in this process; wait until they are done."""
    from documind.settings import RunMode

    if rt.settings.mode is RunMode.EMBEDDED:
        for queue in REVISION_QUEUES:
            if queue in rt.broker.queues:
                rt.broker.join(queue, timeout=600_000)


def _wait_reindexed(rt: Any, task: dict, timeout_s: float = 300) -> None:
    """Distributed mode: return once the corrected chunk is indexed again (its new text
    searchable, the old one gone), so a caller's next search sees the correction."""
    import time

    from sqlalchemy import select

    from documind.db.models import Chunk

    _drain(rt)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with rt.sessions() as s:
            indexed = s.scalar(select(Chunk.indexed_at).where(
                Chunk.document_id == task["document_id"], Chunk.generation == task["generation"],
                Chunk.idx == task["chunk_index"]))
        if indexed is not None:
            return
        time.sleep(0.2)
    raise CliError(f"task {task['task_id']} decided, but its chunk was not re-indexed within {timeout_s:.0f} s "
                   "(are the embed and search workers running?)")


def _show(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        click.echo(text)


def _task_line(t: dict | None) -> str:
    if t is None:
        return "no task for you now (nothing fits, or you are at capacity)"
    return (f"task {t['task_id']}  document {t['document_id']} chunk {t['chunk_index']}  "
            f"confidence {t['confidence']:.2f}  {t['status']}\n{t.get('text') or ''}")


@click.group()
def validate() -> None:
    """Validation tasks: take, answer, batch-decide, flag chunks, export training data."""


@validate.command("next")
@click.option("--validator", "name", required=True, help="your validator name")
@click.option("--json", "as_json", is_flag=True)
def next_task(name: str, as_json: bool) -> None:
    """The task to work on now: the one you hold, else the most urgent free one that fits."""
    with _validation() as rt:
        task = rt.assignment.next_task(name)
    _show(task, as_json, _task_line(task))
    if task is None and not as_json:
        sys.exit(0)


@validate.command("show")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(task_id: int, as_json: bool) -> None:
    """One task with its chunk's text and its answers."""
    from sqlalchemy import select

    from documind.db.models import ValidationAnswer, ValidationTask, Validator
    from documind.validation.chunks import chunk_text
    from documind.validation.views import task_view

    with _validation() as rt, rt.sessions() as s:
        task = s.get(ValidationTask, task_id)
        if task is None:
            raise CliError(f"no validation task {task_id}")
        holder = s.get(Validator, task.assigned_to).name if task.assigned_to else None
        data = task_view(task, chunk_text(s, task), holder)
        data["answers"] = [
            {"validator": name, "verdict": a.verdict.value, "text": a.text, "labels": a.labels,
             "at": a.created_at.isoformat()}
            for a, name in s.execute(
                select(ValidationAnswer, Validator.name).join(Validator, Validator.id == ValidationAnswer.validator_id)
                .where(ValidationAnswer.task_id == task_id).order_by(ValidationAnswer.id)
            )
        ]
    _show(data, as_json, _task_line(data) + "".join(f"\n  {a['validator']}: {a['verdict']}" for a in data["answers"]))


def _answer(task_id: int, name: str, verdict: str, as_json: bool, **kw: Any) -> None:
    from documind.db.models import Verdict

    with _validation(with_workers=verdict != "approve") as rt:
        data = rt.answers.answer(task_id, name, Verdict(verdict), **kw)
        if data["outcome"] == "correct":
            _wait_reindexed(rt, data)
    _show(data, as_json, f"task {task_id}: {data['status']}"
          + (f" ({data['outcome']})" if data["outcome"] else " (waiting for another validator)"))


def _labels(value: str | None) -> list[str] | None:
    return None if value is None else [p.strip() for p in value.split(",") if p.strip()]


@validate.command("approve")
@click.argument("task_id", type=int)
@click.option("--validator", "name", required=True)
@click.option("--labels", default=None, help="labels you confirm, comma-separated")
@click.option("--reason", default=None)
@click.option("--json", "as_json", is_flag=True)
def approve(task_id: int, name: str, labels: str | None, reason: str | None, as_json: bool) -> None:
    """The chunk is right as it is (confidence 1.0, labels confirmed)."""
    _answer(task_id, name, "approve", as_json, labels=_labels(labels), reason=reason)


@validate.command("correct")
@click.argument("task_id", type=int)
@click.option("--validator", "name", required=True)
@click.option("--text", default=None, help="the chunk's corrected text")
@click.option("--text-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--labels", default=None, help="corrected labels, comma-separated")
@click.option("--reason", default=None)
@click.option("--json", "as_json", is_flag=True)
def correct(task_id: int, name: str, text: str | None, text_file: Path | None, labels: str | None,
            reason: str | None, as_json: bool) -> None:
    """New text and/or labels: the chunk is updated, re-embedded and re-indexed."""
    if text_file is not None:
        text = text_file.read_text(encoding="utf-8")
    _answer(task_id, name, "correct", as_json, text=text, labels=_labels(labels), reason=reason)


@validate.command("reject")
@click.argument("task_id", type=int)
@click.option("--validator", "name", required=True)
@click.option("--reason", default=None)
@click.option("--json", "as_json", is_flag=True)
def reject(task_id: int, name: str, reason: str | None, as_json: bool) -> None:
    """The chunk is junk: it leaves search."""
    _answer(task_id, name, "reject", as_json, reason=reason)


@validate.command("release")
@click.argument("task_id", type=int)
@click.option("--validator", "name", required=True)
@click.option("--json", "as_json", is_flag=True)
def release(task_id: int, name: str, as_json: bool) -> None:
    """Give a task back to the queue."""
    with _validation() as rt:
        data = rt.assignment.release(task_id, name)
    _show(data, as_json, f"task {task_id} released")


@validate.command("batch")
@click.argument("verdict", type=click.Choice(["approve", "reject"]))
@click.option("--document", "document_id", default=None, help="every unanswered task of this document")
@click.option("--below", type=click.FloatRange(0, 1), default=None, help="every unanswered task below this confidence")
@click.option("--by", default="lead", show_default=True, help="who decides (audit trail)")
@click.option("--tenant", default=None)
@click.option("--reason", default=None)
@click.option("--json", "as_json", is_flag=True)
def batch(verdict: str, document_id: str | None, below: float | None, by: str, tenant: str | None,
          reason: str | None, as_json: bool) -> None:
    """Decide many tasks at once, atomically: all of them or none."""
    from documind.db.models import Verdict

    with _validation(with_workers=verdict == "reject") as rt:
        data = rt.answers.batch(Verdict(verdict), by=by, document_id=document_id, below=below,
                                tenant=resolve_tenant(tenant) if tenant else None, reason=reason)
    _show(data, as_json, f"{verdict}d {data['decided']} task(s)")


@validate.command("flag")
@click.argument("document_id")
@click.option("--chunk", "chunks", type=click.IntRange(min=0), multiple=True, required=True, help="chunk index (repeatable)")
@click.option("--confidence", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--reason", default="flagged by hand")
@click.option("--tenant", default=None)
@click.option("--json", "as_json", is_flag=True)
def flag(document_id: str, chunks: tuple[int, ...], confidence: float, reason: str, tenant: str | None,
         as_json: bool) -> None:
    """Send chunks of a completed document for validation (the AI stage's ReviewChunks)."""
    from documind.contracts import LowConfidenceChunk, ReviewChunks
    from documind.db.models import DocumentStatus

    owner = resolve_tenant(tenant)
    with _validation(with_workers=True) as rt:
        doc = rt.status.get(document_id, tenant=owner)
        if doc is None:
            raise CliError(f"no document {document_id}")
        if doc.status is not DocumentStatus.COMPLETED:
            raise CliError(f"document {document_id} is {doc.status.value}: only completed documents are validated")
        message = ReviewChunks(
            document_id=doc.id, tenant=doc.tenant, generation=doc.generation, lane=doc.lane,
            document_confidence=confidence,
            chunks=[LowConfidenceChunk(idx=i, confidence=confidence, reasons=[reason]) for i in sorted(set(chunks))],
        )
        rt.bus.send(message)
    _show(message.payload(), as_json, f"sent {len(message.chunks)} chunk(s) of {document_id} for validation")


@validate.command("assign")
@click.option("--json", "as_json", is_flag=True)
def assign(as_json: bool) -> None:
    """Hand free tasks to the least-loaded fitting validators now."""
    with _validation() as rt:
        n = rt.assignment.assign_open()
    _show({"assigned": n}, as_json, f"assigned {n} task(s)")


@validate.command("export")
@click.option("--kind", type=click.Choice(["labels", "pairs"]), required=True)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tenant", default=None)
@click.option("--json", "as_json", is_flag=True)
def export(kind: str, file: Path, tenant: str | None, as_json: bool) -> None:
    """Training data (JSON lines): labels (text + confirmed labels) or pairs (original, corrected)."""
    from documind.validation import export as exporter

    with _validation() as rt, file.open("w", encoding="utf-8") as out:
        n = exporter.write(rt.sessions, kind, out, tenant=resolve_tenant(tenant) if tenant else None)
    _show({"kind": kind, "rows": n, "file": str(file)}, as_json, f"wrote {n} row(s) to {file}")
