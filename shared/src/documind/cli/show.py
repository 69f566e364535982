"""``documind show``: one document's AI-processing results (labels, entities, sentiment,
quality, confidence), per document and with --chunks per chunk."""

from __future__ import annotations

from typing import Any

import click

from documind.cli.common import CliError, open_runtime, print_json, resolve_tenant


@click.command()
@click.argument("doc_id")
@click.option("--chunks", "with_chunks", is_flag=True, help="also each chunk's entities, sentiment and confidence")
@click.option("--tenant", default=None, help="tenant of the document (default: DOCUMIND_DEFAULT_TENANT)")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def show(doc_id: str, with_chunks: bool, tenant: str | None, as_json: bool) -> None:
    """Show a document's labels, entities, sentiment, quality and confidence."""
    from documind.enrichment_view import document_view

    tenant = resolve_tenant(tenant)
    from documind.db.models import Document

    with open_runtime(with_workers=False) as rt, rt.sessions() as s:
        doc = s.get(Document, doc_id)
        if doc is None or doc.tenant != tenant:  # another tenant's reads as missing
            raise CliError(f"no such document: {doc_id}")
        data = document_view(s, doc, with_chunks=with_chunks)
    if as_json:
        print_json(data)
        return
    click.echo(_text(data))


def _classified_by(classification: Any) -> str:
    """How the labels were given: zero-shot or supervised, in which embedding model's space."""
    if not isinstance(classification, dict) or classification.get("method") in (None, "none"):
        return ""
    model = classification.get("embedding_model")
    return f"  ({classification['method']}{', ' + model if model else ''})"


def _figures(item: dict[str, Any]) -> str:
    parts = []
    if item.get("confidence") is not None:
        parts.append(f"confidence {item['confidence']:.2f}")
    if item.get("sentiment"):
        parts.append(f"sentiment {item['sentiment']['label']} ({item['sentiment']['compound']:+.2f})")
    return ", ".join(parts) or "not enriched"


def _text(data: dict[str, Any]) -> str:
    lines = [
        f"{data['id']}  {data['status']}  {data['source_name']}  (generation {data['generation']}, "
        f"{data['chunk_count'] or 0} chunks)",
        f"  labels: {', '.join(map(str, data['labels'])) or '-'}{_classified_by(data.get('classification'))}",
        f"  {_figures(data)}",
    ]
    quality = {k: v for k, v in (data.get("quality") or {}).items() if k != "reasons" and v is not None}
    if quality:
        lines.append("  quality: " + ", ".join(f"{k} {v:.2f}" for k, v in quality.items()))
    if data.get("low_confidence_chunks"):
        sent = f", sent for review {data['review_sent_at']}" if data.get("review_sent_at") else ""
        lines.append(f"  low-confidence chunks: {data['low_confidence_chunks']}{sent}")
    if data["entities"]:
        lines.append("  entities:")
        for e in data["entities"]:
            lines.append(f"    {e['type']:<7} {e['text']}  (chunks {', '.join(map(str, e['chunks']))})")
    for c in data.get("chunks") or []:
        reasons = f"  [{', '.join(c['reasons'])}]" if c.get("reasons") else ""
        lines.append(f"  #{c['idx']}: {_figures(c)}, {len(c['entities'])} entities{reasons}")
    return "\n".join(lines)
