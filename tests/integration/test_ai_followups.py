"""Work after completion that went missing, and deletion of AI results, with the real CLI and
workers in both modes:

- a completed document whose ``FinishEnrichment`` or ``ClassifyDocument`` was lost (simulated by
  removing what they store) gets it again from the watchdog (``documind recover``), with the
  same figures and labels; a second run sends nothing; a document whose chunks were never
  enriched (the message was lost before it ran) is enriched then;
- a deleted document keeps no enrichment rows nor labels, and ``documind show`` shows none."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from tests.conftest import require_real_corpus
from tests.integration.harness import Stack, mode_stack

pytestmark = pytest.mark.integration

TAXONOMY = {
    "sport": "Sport: football players, clubs, matches, goals, leagues, seasons and transfers.",
    "software": "Software development: source code, HTML and XML markup, programming examples.",
}


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with mode_stack(request.param, "followups", redis_db=13) as s:
        yield s


def show(stack: Stack, doc_id: str, *extra: str) -> dict:
    return stack.cli("show", doc_id, "--json", *extra).json()


def wait_for(stack: Stack, doc_id: str, done, what: str, timeout_s: float = 180) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not done(data := show(stack, doc_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{doc_id}: {what} not there after {timeout_s} s: {data}\n{stack.worker_logs()}")
        time.sleep(0.5)
    return data


def finished(data: dict) -> bool:
    return data["enriched"] and data["classification"] is not None and data["confidence"] is not None


def drop_classification(stack: Stack, doc_id: str) -> None:
    """What a lost ClassifyDocument leaves: no labels, no classification (and so no figures
    either: the search service's FinishEnrichment may have been lost with it)."""
    if stack.mode == "embedded":  # SQLite
        stack.execute(f"UPDATE documents SET metadata = json_remove(metadata, '$.classification', '$.labels') "
                       f"WHERE id = '{doc_id}'")
    else:
        stack.execute(f"UPDATE documents SET metadata = (metadata::jsonb - 'classification' - 'labels')::json "
                       f"WHERE id = '{doc_id}'")
    stack.execute(f"DELETE FROM document_enrichment WHERE document_id = '{doc_id}'")
    stack.execute(f"UPDATE documents SET enriched_generation = NULL WHERE id = '{doc_id}'")  # never finished


@pytest.fixture(scope="module")
def docs(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    corpus = require_real_corpus()
    for name, description in TAXONOMY.items():
        stack.cli("labels", "add", name, "--description", description)
    got = stack.ingest(corpus / "norwich-city.txt", corpus / "codeblock.md")
    assert {d["status"] for d in got} == {"completed"}, got
    by_name = {d["source_name"]: d for d in got}
    out = {"bio": by_name["norwich-city.txt"], "code": by_name["codeblock.md"]}
    for d in out.values():
        wait_for(stack, d["id"], finished, "classification and enrichment")
    return out


def test_lost_followups_are_resent_by_the_watchdog_once(stack: Stack, docs: dict[str, dict]) -> None:
    bio, code = docs["bio"]["id"], docs["code"]["id"]
    before = {d: show(stack, d) for d in (bio, code)}
    assert before[bio]["labels"] == ["sport"] and before[code]["labels"] == ["software"]

    stack.execute(f"DELETE FROM document_enrichment WHERE document_id = '{bio}'")  # FinishEnrichment lost
    stack.execute(f"UPDATE documents SET enriched_generation = NULL WHERE id = '{bio}'")  # it never ran,
    stack.execute(f"DELETE FROM chunk_entities WHERE document_id = '{bio}'")  # so its chunks were never
    stack.execute(f"DELETE FROM chunk_enrichment WHERE document_id = '{bio}'")  # enriched either
    drop_classification(stack, code)  # ClassifyDocument (and FinishEnrichment) lost
    assert not show(stack, bio)["enriched"] and show(stack, code)["labels"] == []

    outcome = stack.cli("recover", "--stale-after", "0", "--json").json()
    # Both for the document that lost both (the classifier re-sends FinishEnrichment only for
    # a document whose enrichment was finished).
    assert outcome["followups"]["classify"] == [code], outcome
    assert sorted(outcome["followups"]["enrichment"]) == sorted([bio, code]), outcome

    for doc_id in (bio, code):
        after = wait_for(stack, doc_id, finished, "the re-sent follow-up's result")
        assert after["labels"] == before[doc_id]["labels"]
        assert after["confidence"] == pytest.approx(before[doc_id]["confidence"])
        assert after["classification"]["margin"] == pytest.approx(before[doc_id]["classification"]["margin"])
        assert after["entities"] == before[doc_id]["entities"]
    # Nothing is missing any more: a second run sends nothing.
    again = stack.cli("recover", "--stale-after", "0", "--json").json()
    assert again["followups"] == {"classify": [], "enrichment": []}, again


def test_delete_drops_the_documents_ai_results(stack: Stack, docs: dict[str, dict]) -> None:
    doc_id = docs["bio"]["id"]
    before = show(stack, doc_id, "--chunks")
    assert before["entities"] and before["confidence"] is not None and before["labels"]

    stack.cli("delete", doc_id, "--json")

    after = show(stack, doc_id, "--chunks")
    assert after["status"] == "deleted"
    assert (after["labels"], after["classification"], after["entities"], after["chunks"]) == ([], None, [], [])
    assert (after["confidence"], after["sentiment"], after["quality"], after["enriched"]) == (None, None, None, False)
    for table in ("document_enrichment", "chunk_enrichment", "chunk_entities"):
        assert stack.sql(f"SELECT count(*) FROM {table} WHERE document_id = '{doc_id}'") == [(0,)], table
    [(meta,)] = stack.sql(f"SELECT metadata FROM documents WHERE id = '{doc_id}'")
    assert "classification" not in str(meta) and "labels" not in str(meta)
    text = stack.cli("show", doc_id).stdout
    assert "deleted" in text and "confidence" not in text and "not enriched" in text
    # The watchdog finds nothing to re-send for a deleted document.
    outcome = stack.cli("recover", "--stale-after", "0", "--json").json()
    assert doc_id not in outcome["followups"]["classify"] + outcome["followups"]["enrichment"]
