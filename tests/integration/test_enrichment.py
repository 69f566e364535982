"""AI enrichment through the real CLI in both modes: entities, sentiment and confidence are
stored per chunk and per document, ``show --json`` shows them, ``search --entity`` filters by
them, and a low-confidence document is handed to the validate service, which opens one task per
low chunk (and none more when the completion is redelivered)."""

from __future__ import annotations

import json
import random
import time
from typing import Iterator

import pytest

from tests.conftest import require_real_corpus
from tests.integration.harness import Stack, mode_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with mode_stack(request.param, "enrich", redis_db=12) as s:
        yield s


def noise_text() -> str:
    """Consonant soup in word-sized pieces: readable characters, no words of any language."""
    rng = random.Random(11)
    letters = "bcdfghjklmnpqrstvwxz"
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(3, 8))) for _ in range(120)) + "\n"


@pytest.fixture(scope="module")
def docs(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    corpus = require_real_corpus()
    folder = tmp_path_factory.mktemp("enrich")
    noise = folder / "noise.txt"
    noise.write_text(noise_text())
    # An .eml's headers become metadata, not chunk text: the corpus message quoted in a note
    # keeps its From/To lines in the text.
    note = folder / "mail-note.txt"
    note.write_text("Notes on the test mailbox, with the message as received:\n\n"
                    + (corpus / "fake-email.txt").read_text(encoding="utf-8"))
    got = stack.ingest(corpus / "norwich-city.txt", note, noise)
    by_name = {d["source_name"]: d for d in got}
    assert {d["status"] for d in got} == {"completed"}, got
    for d in got:
        wait_enriched(stack, d["id"])
    return {"bio": by_name["norwich-city.txt"], "email": by_name["mail-note.txt"], "noise": by_name["noise.txt"]}


def show(stack: Stack, doc_id: str, *extra: str) -> dict:
    return stack.cli("show", doc_id, "--json", *extra).json()


def wait_enriched(stack: Stack, doc_id: str, timeout_s: float = 120) -> dict:
    """The document-level figures come after completion (embed.finish_enrichment): at once in
    embedded mode (the command drains its queues), soon after in distributed mode."""
    deadline = time.monotonic() + timeout_s
    while True:
        data = show(stack, doc_id)
        if data["enriched"]:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"{doc_id} not enriched after {timeout_s} s\n{stack.worker_logs()}")
        time.sleep(0.5)


def test_entities_sentiment_confidence_stored_and_shown(stack: Stack, docs: dict[str, dict]) -> None:
    bio = show(stack, docs["bio"]["id"], "--chunks")
    keys = {f"{e['type']}:{e['value']}" for e in bio["entities"]}
    assert {"PERSON:iwan wyn roberts", "PLACE:wales", "DATE:26 june 1968"} <= keys
    assert any(k.startswith("MONEY:") for k in keys) and any(k.startswith("URL:") for k in keys)
    assert bio["confidence"] >= 0.8 and bio["sentiment"]["label"] in ("positive", "neutral", "negative")
    assert bio["low_confidence_chunks"] == 0 and bio["review_sent_at"] is None
    assert len(bio["chunks"]) == bio["chunk_count"]
    assert all(c["confidence"] is not None and c["sentiment"] is not None for c in bio["chunks"])
    email = show(stack, docs["email"]["id"])
    assert "mrobinson@unstructured.io" in {e["value"] for e in email["entities"] if e["type"] == "EMAIL"}
    # Offsets point into the stored chunk text, in the database itself.
    mismatched = stack.sql(
        "SELECT count(*) FROM chunk_entities e JOIN chunks c ON c.id = e.chunk_id "
        "WHERE substr(c.text, e.start + 1, e.\"end\" - e.start) <> e.text"
    )
    stored = stack.sql("SELECT count(*) FROM chunk_entities")
    assert mismatched == [(0,)] and stored[0][0] > 10
    text = stack.cli("show", docs["bio"]["id"]).stdout
    assert "iwan wyn roberts" in text.lower() and "confidence" in text


def search_once_there(stack: Stack, query: str, entity: str, timeout_s: float = 120) -> list[dict]:
    """The entities reach the points after the document is searchable: enrichment runs then,
    and its finish asks the search service to rebuild the points of chunks with entities."""
    deadline = time.monotonic() + timeout_s
    while not (hits := stack.search(query, 10, "--entity", entity)):
        assert time.monotonic() < deadline, f"no hit for {entity} after {timeout_s} s\n{stack.worker_logs()}"
        time.sleep(0.5)
    return hits


def test_search_filters_by_entity(stack: Stack, docs: dict[str, dict]) -> None:
    hits = search_once_there(stack, "football career", "person:Iwan Wyn Roberts")
    assert {h["document_id"] for h in hits} == {docs["bio"]["id"]}
    assert stack.search("football career", 10, "--entity", "PERSON:Nobody Of That Name") == []
    hits = search_once_there(stack, "roses are red", "EMAIL:MRobinson@unstructured.io")
    assert {h["document_id"] for h in hits} == {docs["email"]["id"]}
    bad = stack.cli("search", "x", "--entity", "COLOUR:red", check=False)
    assert bad.code == 2 and "TYPE:VALUE" in bad.stderr


def review_tasks(stack: Stack) -> list[tuple]:
    """The validation tasks the hand-off opened (the validate service consumes ``ReviewChunks``
    in both modes): (document_id, generation, chunk_idx, confidence, reasons), by chunk."""
    rows = stack.sql(
        "SELECT id, document_id, generation, chunk_idx, confidence, reasons FROM validation_tasks ORDER BY chunk_idx"
    )
    return [(i, d, g, idx, c, json.loads(r) if isinstance(r, str) else r) for i, d, g, idx, c, r in rows]


def wait_for_tasks(stack: Stack, count: int) -> list[tuple]:
    deadline = time.monotonic() + 120
    while len(tasks := review_tasks(stack)) < count:
        assert time.monotonic() < deadline, f"{len(tasks)} validation tasks, expected {count}\n{stack.worker_logs()}"
        time.sleep(0.5)
    return tasks


def test_low_confidence_document_goes_to_review_once(stack: Stack, docs: dict[str, dict]) -> None:
    noise = show(stack, docs["noise"]["id"], "--chunks")
    assert noise["confidence"] < 0.8 and noise["low_confidence_chunks"] == len(noise["chunks"]) >= 1
    assert noise["review_sent_at"] is not None
    # One task per low chunk, all of the noise document (the bio's chunks are above the
    # threshold), carrying the confidence and the signals that lowered it.
    tasks = wait_for_tasks(stack, len(noise["chunks"]))
    assert {(d, g) for _, d, g, *_ in tasks} == {(docs["noise"]["id"], noise["generation"])}
    assert [idx for _, _, _, idx, _, _ in tasks] == [c["idx"] for c in noise["chunks"]]
    assert all(conf < 0.8 and any(r.startswith("dictionary=") for r in reasons) for *_, conf, reasons in tasks)


RESEND = """
import sys
from documind.cli.common import open_runtime
from documind.contracts import FinishEnrichment
with open_runtime(with_workers=True) as rt:  # embedded: in-process workers, drained on exit
    rt.bus.send(FinishEnrichment(document_id=sys.argv[1], generation=int(sys.argv[2]), tenant="default"))
"""


def test_redelivered_completion_sends_no_second_review(stack: Stack, docs: dict[str, dict]) -> None:
    import subprocess
    import sys

    doc_id = docs["noise"]["id"]
    before = show(stack, doc_id)
    tasks = wait_for_tasks(stack, len(show(stack, doc_id, "--chunks")["chunks"]))
    [(enriched_at,)] = stack.sql(f"SELECT enriched_at FROM document_enrichment WHERE document_id = '{doc_id}'")
    subprocess.run([sys.executable, "-c", RESEND, doc_id, str(before["generation"])], env=stack.env,
                   cwd=stack.root, check=True, timeout=300)
    deadline = time.monotonic() + 120
    while stack.sql(f"SELECT enriched_at FROM document_enrichment WHERE document_id = '{doc_id}'")[0][0] == enriched_at:
        assert time.monotonic() < deadline, f"the second FinishEnrichment was not processed\n{stack.worker_logs()}"
        time.sleep(0.5)
    after = show(stack, doc_id)
    assert after["review_sent_at"] == before["review_sent_at"] and after["confidence"] == before["confidence"]
    # The summary ran again (enriched_at moved) but nothing was handed on twice: the same
    # tasks, none added (finish_document's single send is unit-tested in test_enrichment_finish).
    assert review_tasks(stack) == tasks
