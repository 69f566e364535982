"""`documind labels ...`: a tenant's classification taxonomy (add, list, remove, import), its
supervised classifier (train, untrain) and re-classifying documents after a change.

Completed documents are classified by the embed service; these commands edit what it
classifies into. A changed taxonomy applies to documents completed from then on, and to
existing ones after ``documind labels classify``."""

from __future__ import annotations

from pathlib import Path

import click

from documind.cli.common import CliError, open_runtime, print_json, resolve_tenant

_TENANT = click.option("--tenant", default=None, help="the tenant (default: DOCUMIND_DEFAULT_TENANT)")
_JSON = click.option("--json", "as_json", is_flag=True, help="print JSON only")


@click.group()
def labels() -> None:
    """The classification taxonomy: labels with descriptions, per tenant."""


def _taxonomy_error(exc: Exception) -> CliError:
    return CliError(str(exc))


@labels.command("add")
@click.argument("name")
@click.option("--description", required=True, help="what documents with this label are about (one or two sentences)")
@_TENANT
@_JSON
def labels_add(name: str, description: str, tenant: str | None, as_json: bool) -> None:
    """Add a label (or replace the description of an existing one)."""
    from documind.taxonomy import TaxonomyError, add_label, check_label

    tenant = resolve_tenant(tenant)
    try:
        label = check_label(name, description)
        with open_runtime(with_workers=False) as rt:
            outcome = add_label(rt.sessions, tenant, label.name, label.description)
    except TaxonomyError as exc:
        raise _taxonomy_error(exc) from None
    if as_json:
        print_json({"tenant": tenant, "name": label.name, "description": label.description, "result": outcome})
    else:
        click.echo(f"{outcome} label {label.name!r} for tenant {tenant}")


@labels.command("list")
@_TENANT
@_JSON
def labels_list(tenant: str | None, as_json: bool) -> None:
    """The tenant's labels, its taxonomy version and its supervised classifier (if trained)."""
    from documind.db.models import LabelClassifier
    from documind.model_registry import build_registry
    from documind.taxonomy import labels_json, list_labels, taxonomy_version

    tenant = resolve_tenant(tenant)
    with open_runtime(with_workers=False) as rt:
        found = list_labels(rt.sessions, tenant)
        active = build_registry(rt).active().name
        with rt.sessions() as s:
            row = s.get(LabelClassifier, tenant)
            # A classifier applies only to the embedding model it was trained in (after a model
            # swap it is retrained in the new one; until then documents are classified zero-shot).
            model = None if row is None else {
                "embedding_model": row.embedding_model, "active_model": active,
                "in_use": row.embedding_model == active, "labels": list(row.labels), "examples": row.examples,
                "trained_at": row.trained_at.isoformat() + "Z", "report": row.report,
            }
    if as_json:
        print_json({
            "tenant": tenant, "taxonomy_version": taxonomy_version(found), "labels": labels_json(found),
            "classifier": model,
        })
        return
    if not found:
        click.echo(f"tenant {tenant} has no labels (documents get none); add some with documind labels add")
    for lb in found:
        click.echo(f"{lb.name}\t{lb.description}")
    if model:
        state = "in use" if model["in_use"] else (
            f"NOT in use: the active model is {model['active_model']} (zero-shot until it is retrained)"
        )
        click.echo(f"supervised classifier: {len(model['labels'])} labels, {model['examples']} examples, "
                   f"trained {model['trained_at']} on {model['embedding_model']} ({state})", err=True)


@labels.command("remove")
@click.argument("name")
@_TENANT
@_JSON
def labels_remove(name: str, tenant: str | None, as_json: bool) -> None:
    """Remove a label (documents keep it until they are classified again)."""
    from documind.taxonomy import TaxonomyError, remove_label

    tenant = resolve_tenant(tenant)
    try:
        with open_runtime(with_workers=False) as rt:
            remove_label(rt.sessions, tenant, name)
    except TaxonomyError as exc:
        raise _taxonomy_error(exc) from None
    if as_json:
        print_json({"tenant": tenant, "name": name, "result": "removed"})
    else:
        click.echo(f"removed label {name!r} from tenant {tenant}")


@labels.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="also remove the labels the file does not name")
@_TENANT
@_JSON
def labels_import(file: Path, replace: bool, tenant: str | None, as_json: bool) -> None:
    """Add or update labels from a YAML or JSON taxonomy: a list of {name, description},
    {labels: [...]}, or {name: description}."""
    from documind.taxonomy import TaxonomyError, import_labels, read_taxonomy_file

    tenant = resolve_tenant(tenant)
    try:
        found = read_taxonomy_file(file)
        with open_runtime(with_workers=False) as rt:
            counts = import_labels(rt.sessions, tenant, found, replace=replace)
    except TaxonomyError as exc:
        raise _taxonomy_error(exc) from None
    if as_json:
        print_json({"tenant": tenant, **counts})
    else:
        click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@labels.command("train")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--validated", is_flag=True,
              help="train from the labels people confirmed or corrected in validation instead of a file")
@click.option("--min-examples", type=int, default=None, help="default: DOCUMIND_CLASSIFY_MIN_EXAMPLES")
@_TENANT
@_JSON
def labels_train(file: Path | None, validated: bool, min_examples: int | None, tenant: str | None,
                 as_json: bool) -> None:
    """Train the tenant's supervised classifier from a JSONL file of {"text", "labels"} (or,
    with --validated, from validated chunks); from then on it classifies the tenant's
    documents instead of zero-shot. Every label must be in the taxonomy (validated labels
    outside it are left out); labels with too few examples stay zero-shot-only. Documents
    already classified keep their labels until `documind labels classify`."""
    from documind.taxonomy import TaxonomyError, list_labels

    from documind.embedding import encoder_for
    from documind.label_model import read_examples, train_from_pairs
    from documind.model_registry import build_registry

    if (file is None) != validated:
        raise click.UsageError("give a FILE or --validated (one of them)")
    tenant = resolve_tenant(tenant)
    if validated:
        from documind.validation.training import train_validated

        try:
            with open_runtime(with_workers=False) as rt:
                # The active model's space, as for a file below.
                out = train_validated(rt.sessions, encoder_for(rt, build_registry(rt).active()), tenant,
                                      min_examples=min_examples or rt.settings.classify_min_examples)
        except TaxonomyError as exc:
            raise _taxonomy_error(exc) from None
        if as_json:
            print_json(out)
        else:
            click.echo(f"trained on {out['examples']} validated examples: {', '.join(out['labels'])}")
        return
    try:
        examples = read_examples(file)
        with open_runtime(with_workers=False) as rt:
            known = [lb.name for lb in list_labels(rt.sessions, tenant)]
            if not known:
                raise TaxonomyError(f"tenant {tenant!r} has no taxonomy: add labels before training")
            # The active model's space: the one documents are classified in.
            encoder = encoder_for(rt, build_registry(rt).active())
            report = train_from_pairs(
                rt.sessions, encoder, tenant, examples,
                min_examples=min_examples or rt.settings.classify_min_examples, known_labels=known,
                source=f"file:{file.name}",
            )
    except TaxonomyError as exc:
        raise _taxonomy_error(exc) from None
    if as_json:
        print_json({"tenant": tenant, "embedding_model": encoder.model_name, **report.as_dict()})
    else:
        click.echo(f"trained on {report.examples} examples in {encoder.model_name}'s space: {', '.join(report.labels)}")
        if report.skipped:
            click.echo(f"too few examples (zero-shot only): {', '.join(report.skipped)}")
        click.echo(f"training accuracy {report.train_accuracy:.3f}")


@labels.command("untrain")
@_TENANT
@_JSON
def labels_untrain(tenant: str | None, as_json: bool) -> None:
    """Delete the tenant's supervised classifier: documents are classified zero-shot again."""
    from documind.db.engine import transaction
    from documind.db.models import LabelClassifier

    tenant = resolve_tenant(tenant)
    with open_runtime(with_workers=False) as rt, transaction(rt.sessions) as s:
        row = s.get(LabelClassifier, tenant)
        if row is None:
            raise CliError(f"tenant {tenant!r} has no supervised classifier")
        s.delete(row)
    if as_json:
        print_json({"tenant": tenant, "result": "removed"})
    else:
        click.echo(f"removed tenant {tenant}'s supervised classifier")


@labels.command("classify")
@click.argument("document_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="every completed document of the tenant")
@_TENANT
@_JSON
def labels_classify(document_ids: tuple[str, ...], every: bool, tenant: str | None, as_json: bool) -> None:
    """Classify completed documents again (after the taxonomy or the classifier changed).
    Sends the work to the embed service; embedded mode finishes it before returning."""
    from sqlalchemy import select

    from documind.contracts import ClassifyDocument
    from documind.db.models import Document, DocumentStatus

    if bool(document_ids) == every:
        raise click.UsageError("give document ids or --all")
    tenant = resolve_tenant(tenant)
    with open_runtime(with_workers=True) as rt:
        with rt.sessions() as s:
            query = select(Document.id, Document.generation).where(
                Document.tenant == tenant, Document.status == DocumentStatus.COMPLETED,
                Document.deleted_at.is_(None),
            )
            if document_ids:
                query = query.where(Document.id.in_(document_ids))
            docs = s.execute(query).all()
        missing = sorted(set(document_ids) - {d for d, _ in docs})
        if missing:
            raise CliError(f"no completed document {', '.join(missing)} for tenant {tenant}")
        for doc_id, gen in docs:
            rt.bus.send(ClassifyDocument(document_id=doc_id, generation=gen, tenant=tenant))
    if as_json:
        print_json({"tenant": tenant, "sent": len(docs)})
    else:
        click.echo(f"sent {len(docs)} document(s) to classification")

