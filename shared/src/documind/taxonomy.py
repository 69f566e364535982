"""A tenant's classification taxonomy in Postgres: labels with descriptions.

The embed service classifies completed documents against it (zero-shot from the
descriptions, or a trained model); the CLI edits it (``documind labels ...``). Its version is a
hash of its content (``taxonomy_version``), so nothing has to be bumped when it changes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import delete, select

from documind.db.engine import transaction
from documind.db.models import TaxonomyLabel
from documind.errors import DocumindError

MAX_NAME = 128
MAX_DESCRIPTION = 4000


class TaxonomyError(DocumindError):
    """A bad label, an unknown label, or an unreadable taxonomy file: the message says which."""


@dataclass(frozen=True)
class LabelDef:
    name: str
    description: str


def taxonomy_version(labels: Iterable[LabelDef]) -> str:
    """A content hash of a taxonomy: the same labels and descriptions give the same version,
    so cached label vectors and stored results name exactly what they were made from."""
    canon = json.dumps(sorted((lb.name, lb.description) for lb in labels), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()[:16]


def check_label(name: Any, description: Any) -> LabelDef:
    """A label as stored: a name of 1..128 characters without surrounding spaces (it is what
    ``documind search --label`` matches exactly) and a non-empty description."""
    if not isinstance(name, str) or not name.strip():
        raise TaxonomyError("a label needs a non-empty name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise TaxonomyError(f"label name {name[:40]!r}... is longer than {MAX_NAME} characters")
    if not isinstance(description, str) or not description.strip():
        raise TaxonomyError(
            f"label {name!r} needs a description (zero-shot classification compares documents with it)"
        )
    description = " ".join(description.split())
    if len(description) > MAX_DESCRIPTION:
        raise TaxonomyError(f"the description of label {name!r} is longer than {MAX_DESCRIPTION} characters")
    return LabelDef(name, description)


def list_labels(sessions: Any, tenant: str) -> list[LabelDef]:
    with sessions() as s:
        rows = s.execute(
            select(TaxonomyLabel.name, TaxonomyLabel.description)
            .where(TaxonomyLabel.tenant == tenant)
            .order_by(TaxonomyLabel.name)
        ).all()
    return [LabelDef(n, d) for n, d in rows]


def add_label(sessions: Any, tenant: str, name: str, description: str) -> str:
    """Add a label, or replace the description of one with that name: "added" or "updated"."""
    label = check_label(name, description)
    with transaction(sessions) as s:
        row = s.scalar(
            select(TaxonomyLabel).where(TaxonomyLabel.tenant == tenant, TaxonomyLabel.name == label.name)
            .with_for_update()
        )
        if row is not None:
            row.description = label.description
            return "updated"
        s.add(TaxonomyLabel(tenant=tenant, name=label.name, description=label.description))
        return "added"


def remove_label(sessions: Any, tenant: str, name: str) -> None:
    """Remove a label; documents keep the labels they were given until they are classified again."""
    with transaction(sessions) as s:
        gone = s.execute(
            delete(TaxonomyLabel).where(TaxonomyLabel.tenant == tenant, TaxonomyLabel.name == name.strip())
        ).rowcount
    if not gone:
        known = ", ".join(lb.name for lb in list_labels(sessions, tenant)) or "none"
        raise TaxonomyError(f"no label {name!r} in tenant {tenant!r}'s taxonomy (labels: {known})")


def import_labels(sessions: Any, tenant: str, labels: Iterable[LabelDef], *, replace: bool = False) -> dict[str, int]:
    """Add or update many labels in one transaction; with ``replace`` the labels not named go."""
    wanted = {lb.name: lb for lb in labels}
    counts = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0}
    with transaction(sessions) as s:
        rows = {r.name: r for r in s.scalars(select(TaxonomyLabel).where(TaxonomyLabel.tenant == tenant))}
        for name, lb in wanted.items():
            row = rows.get(name)
            if row is None:
                s.add(TaxonomyLabel(tenant=tenant, name=name, description=lb.description))
                counts["added"] += 1
            elif row.description != lb.description:
                row.description = lb.description
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        if replace:
            for name, row in rows.items():
                if name not in wanted:
                    s.delete(row)
                    counts["removed"] += 1
    return counts


def parse_taxonomy(text: str, source: str = "taxonomy") -> list[LabelDef]:
    """A taxonomy file's labels. YAML (JSON is YAML too) in one of three shapes:
    ``{"labels": [{"name", "description"}, ...]}``, that list alone, or ``{name: description}``."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{source}: not valid YAML or JSON ({str(exc).splitlines()[0]})") from None
    if isinstance(data, dict) and isinstance(data.get("labels"), list):
        data = data["labels"]
    items: list[tuple[Any, Any]]
    if isinstance(data, list):
        items = []
        for i, entry in enumerate(data):
            if not isinstance(entry, dict):
                raise TaxonomyError(f"{source}: entry {i + 1} is not a mapping with name and description")
            items.append((entry.get("name"), entry.get("description")))
    elif isinstance(data, dict) and data:
        items = list(data.items())
    else:
        raise TaxonomyError(
            f"{source}: expected a list of {{name, description}}, {{labels: [...]}} or {{name: description}}"
        )
    labels: list[LabelDef] = []
    seen: set[str] = set()
    for i, (name, description) in enumerate(items):
        try:
            lb = check_label(name, description)
        except TaxonomyError as exc:
            raise TaxonomyError(f"{source}: entry {i + 1}: {exc}") from None
        if lb.name in seen:
            raise TaxonomyError(f"{source}: label {lb.name!r} appears twice")
        seen.add(lb.name)
        labels.append(lb)
    if not labels:
        raise TaxonomyError(f"{source}: no labels in it")
    return labels


def read_taxonomy_file(path: Path) -> list[LabelDef]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"cannot read {path}: {exc}") from None
    return parse_taxonomy(text, str(path))


def labels_json(labels: Iterable[LabelDef]) -> list[dict[str, str]]:
    return [{"name": lb.name, "description": lb.description} for lb in labels]

