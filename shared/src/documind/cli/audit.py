"""``documind audit DOC_ID`` (a document's history, its chunks and tasks included) and
``documind audit verify`` (walk the hash chain; exit 1 when it is broken)."""

from __future__ import annotations

import sys

import click

from documind.cli.common import EXIT_ERROR, CliError, open_runtime, print_json


@click.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True)
def audit(target: str, as_json: bool) -> None:
    """History of document TARGET, or `verify` to check the whole chain."""
    from sqlalchemy import select

    from documind import audit as trail
    from documind.db.models import Chunk, ValidationTask

    with open_runtime(with_workers=False) as rt, rt.sessions() as s:
        if target == "verify":
            result = trail.verify(s)
            if as_json:
                print_json(result.as_dict())
            else:
                click.echo(f"{result.entries} entries: " + ("chain intact" if result.ok else "CHAIN BROKEN"))
                for p in result.problems:
                    click.echo(f"  seq {p.seq}: {p.problem}")
            if not result.ok:
                sys.exit(EXIT_ERROR)
            return
        ids = [target]
        ids += list(s.scalars(select(Chunk.id).where(Chunk.document_id == target)))
        ids += [str(i) for i in s.scalars(select(ValidationTask.id).where(ValidationTask.document_id == target))]
        entries = [trail.as_dict(e) for e in trail.history(s, ids)]
    if not entries:
        raise CliError(f"no audit entries for {target}")
    if as_json:
        print_json(entries)
        return
    for e in entries:
        click.echo(f"{e['seq']:>7} {e['at']} {e['actor']:<28} {e['entity_type']}:{e['action']:<18} "
                   f"{e['before']} -> {e['after']}" + (f"  ({e['reason']})" if e["reason"] else ""))
