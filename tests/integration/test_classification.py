"""Classification through the real CLI and workers, in embedded and distributed mode: a
tenant's taxonomy is set, real documents of the corpus are ingested, they get labels (stored
on the document, its chunks and its index points) and ``documind search --label`` returns
only documents with that label; after a label is removed and the documents are classified
again, the filter follows."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import require_real_corpus

pytestmark = pytest.mark.integration

TENANT = "classify"
TAXONOMY = """\
labels:
  - name: sport
    description: "Sport: football players, clubs, matches, goals, leagues, seasons and transfers."
  - name: literature
    description: "Fiction and literature: a novel's characters, their conversations and feelings, narrative prose."
  - name: software
    description: "Software development: source code, HTML and XML markup, programming examples."
"""


def wait_for(fetch, ok, timeout: float = 180.0):  # noqa: ANN001, ANN201
    """Distributed mode classifies after the document completes: poll until ``ok``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(1.0)


@pytest.fixture(scope="module")
def labelled(stack, tmp_path_factory) -> dict[str, dict]:  # noqa: ANN001
    corpus = require_real_corpus()
    folder = tmp_path_factory.mktemp(f"classify-{stack.mode}")
    shutil.copy(corpus / "norwich-city.txt", folder / "norwich-city.txt")
    shutil.copy(corpus / "codeblock.md", folder / "codeblock.md")
    # The novel's first pages: the whole book would take minutes to embed.
    novel = (corpus / "book-war-and-peace-1225p.txt").read_text(encoding="utf-8")[:6000]
    (folder / "war-and-peace-opening.txt").write_text(novel, encoding="utf-8")
    tax = folder.parent / f"taxonomy-{stack.mode}.yaml"
    tax.write_text(TAXONOMY, encoding="utf-8")
    imported = stack.cli("labels", "import", str(tax), "--tenant", TENANT, "--json").json()
    assert imported["added"] == 3 or imported["unchanged"] == 3, imported
    docs = stack.ingest(folder, extra=("--tenant", TENANT))
    assert all(d["status"] == "completed" for d in docs), docs
    out = {}
    for d in docs:
        out[d["source_name"]] = wait_for(
            lambda d=d: stack.status(d["id"]), lambda s: "classification" in s["metadata"]
        )
    return out


def test_documents_get_labels_with_scores(stack, labelled) -> None:  # noqa: ANN001
    expected = {"norwich-city.txt": "sport", "war-and-peace-opening.txt": "literature", "codeblock.md": "software"}
    for name, label in expected.items():
        meta = labelled[name]["metadata"]
        assert meta["labels"][:1] == [label], (name, meta)
        cls = meta["classification"]
        assert cls["method"] == "zero-shot" and cls["labels"][0]["name"] == label
        assert 0.0 <= cls["labels"][0]["score"] <= 1.0 and cls["margin"] > 0
    listed = stack.cli("labels", "list", "--tenant", TENANT, "--json").json()
    assert {lb["name"] for lb in listed["labels"]} == {"sport", "literature", "software"}
    assert all(d["metadata"]["classification"]["taxonomy_version"] == listed["taxonomy_version"]
               for d in labelled.values())
    # Each chunk has its top label stored.
    doc_id = labelled["norwich-city.txt"]["id"]
    rows = stack.sql(f"SELECT classification FROM chunks WHERE document_id = '{doc_id}'")
    assert rows and all(r[0] is not None for r in rows)


def test_search_by_label_returns_only_documents_with_it(stack, labelled) -> None:  # noqa: ANN001
    sport_id = labelled["norwich-city.txt"]["id"]
    hits = wait_for(
        lambda: stack.search("who scored goals for the club", 20, "--tenant", TENANT, "--label", "sport"),
        lambda h: bool(h),
    )
    assert hits and {h["document_id"] for h in hits} == {sport_id}
    novel = stack.search("who scored goals for the club", 20, "--tenant", TENANT, "--label", "literature")
    assert {h["document_id"] for h in novel} == {labelled["war-and-peace-opening.txt"]["id"]}


def test_removing_a_label_and_reclassifying_updates_the_index(stack, labelled) -> None:  # noqa: ANN001
    bad = stack.cli("labels", "remove", "no-such-label", "--tenant", TENANT, check=False)
    assert bad.code == 1 and "no label 'no-such-label'" in bad.stderr
    stack.cli("labels", "remove", "sport", "--tenant", TENANT)
    assert stack.cli("labels", "classify", "--all", "--tenant", TENANT, "--json").json()["sent"] == 3
    sport_id = labelled["norwich-city.txt"]["id"]
    status = wait_for(lambda: stack.status(sport_id), lambda s: "sport" not in s["metadata"]["labels"])
    assert "sport" not in status["metadata"]["labels"]
    hits = wait_for(
        lambda: stack.search("who scored goals for the club", 20, "--tenant", TENANT, "--label", "sport"),
        lambda h: not h,
    )
    assert hits == []
    stack.cli("labels", "add", "sport", "--description",
              "Sport: football players, clubs, matches, goals, leagues, seasons and transfers.", "--tenant", TENANT)


def test_a_tenant_without_a_taxonomy_gets_no_labels_and_a_note(stack, tmp_path) -> None:  # noqa: ANN001
    corpus = require_real_corpus()
    shutil.copy(corpus / "codeblock.md", tmp_path / "codeblock.md")
    (doc,) = stack.ingest(tmp_path / "codeblock.md", extra=("--tenant", "no-taxonomy"))
    assert doc["status"] == "completed"
    status = wait_for(lambda: stack.status(doc["id"]), lambda s: "classification" in s["metadata"])
    assert status["metadata"]["labels"] == []
    assert "no taxonomy" in status["metadata"]["classification"]["note"]
    listed = stack.cli("labels", "list", "--tenant", "no-taxonomy")
    assert "has no labels" in listed.stdout
