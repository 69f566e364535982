"""Classification through the real CLI and workers, in embedded and distributed mode: a
tenant's taxonomy is set, real documents of the corpus are ingested, they get labels (stored
on the document, its chunks and its index points) and ``documind search --label`` returns
only documents with that label; after a label is removed and the documents are classified
again, the filter follows."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import require_real_corpus
from tests.integration.harness import wait_for

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


def status(stack, doc_id: str, tenant: str = TENANT) -> dict:  # noqa: ANN001
    return stack.cli("status", doc_id, "--tenant", tenant, "--json").json()


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
            lambda d=d: status(stack, d["id"]), lambda s: "classification" in s["metadata"]
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
    now = wait_for(lambda: status(stack, sport_id), lambda s: "sport" not in s["metadata"]["labels"])
    assert "sport" not in now["metadata"]["labels"]
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
    found = wait_for(lambda: status(stack, doc["id"], "no-taxonomy"), lambda s: "classification" in s["metadata"])
    assert found["metadata"]["labels"] == []
    assert "no taxonomy" in found["metadata"]["classification"]["note"]
    listed = stack.cli("labels", "list", "--tenant", "no-taxonomy")
    assert "has no labels" in listed.stdout


EXAMPLES = {
    "sport": [
        "The striker scored twice and the club climbed to second in the league.",
        "The manager signed a new forward from a rival club for a record fee.",
        "Fans celebrated the late winning goal at the stadium on Saturday.",
        "The goalkeeper kept a clean sheet in his hundredth appearance for the team.",
        "The defender was sent off and the side lost the cup tie.",
        "He made more than three hundred league appearances before retiring.",
    ],
    "literature": [
        "She looked at him with tears in her eyes and said nothing for a long while.",
        "The old count received his guests in the drawing room, smiling at each in turn.",
        "'You are unkind,' said the princess, turning away from the window.",
        "In the evening the whole family gathered and talked of the war and of marriage.",
        "He felt a strange tenderness for the girl and could not explain it to himself.",
        "The novel follows three families through years of love, loss and ambition.",
    ],
    "software": [
        "Wrap the markup in a div element and close every tag.",
        "This XML example declares a note with to, from and body elements.",
        "Install the package and run the script with the --verbose flag.",
        "The function returns a list of parsed elements from the HTML document.",
        "Use a fenced code block to show the configuration file.",
        "The compiler reports a syntax error on line twelve of the source file.",
    ],
}


def test_a_trained_classifier_replaces_zero_shot(stack, labelled, tmp_path) -> None:  # noqa: ANN001
    import json

    examples = tmp_path / "examples.jsonl"
    examples.write_text("".join(json.dumps({"text": t, "labels": [n]}) + "\n" for n, ts in EXAMPLES.items() for t in ts))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "labels": ["unknown-label"]}) + "\n")
    refused = stack.cli("labels", "train", str(bad), "--tenant", TENANT, check=False)
    assert refused.code == 1 and "not in tenant 'classify'" in refused.stderr
    report = stack.cli("labels", "train", str(examples), "--tenant", TENANT, "--json").json()
    assert report["examples"] == 18 and set(report["labels"]) == {"sport", "literature", "software"}
    assert stack.cli("labels", "list", "--tenant", TENANT, "--json").json()["classifier"]["examples"] == 18
    stack.cli("labels", "classify", "--all", "--tenant", TENANT)
    sport_id = labelled["norwich-city.txt"]["id"]
    now = wait_for(lambda: status(stack, sport_id),
                   lambda s: s["metadata"]["classification"]["method"] == "supervised")
    assert now["metadata"]["classification"]["method"] == "supervised"
    assert now["metadata"]["labels"][:1] == ["sport"]
    stack.cli("labels", "untrain", "--tenant", TENANT)
    assert stack.cli("labels", "list", "--tenant", TENANT, "--json").json()["classifier"] is None
