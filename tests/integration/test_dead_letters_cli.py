"""`documind dead-letters` on the distributed stack (real Redis, Postgres, worker processes):
a message for an actor nobody declares lands in the table; a document's dead letter is
re-driven exactly once and the document completes; purge removes what it says."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import dramatiq
import pytest

from tests.integration.harness import REPO, distributed_stack, teardown

pytestmark = pytest.mark.integration


def _redis_broker(stack):  # noqa: ANN001, ANN202
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=stack.env["DOCUMIND_REDIS_URL"], namespace=stack.env["DOCUMIND_REDIS_NAMESPACE"])
    broker.declare_queue("ingest")
    return broker


def _crash_loop_outcome(stack, doc_id: str) -> None:  # noqa: ANN001
    """What the delivery counter leaves after a worker died on every delivery: the document
    failed and its ProcessDocument in the dead-letter table (the same functions it calls)."""
    from documind.db.engine import build_engine, build_session_factory
    from documind.middleware.deliveries import dead_letter
    from documind.status import StatusStore

    engine = build_engine(stack.env["DOCUMIND_DATABASE_URL"])
    try:
        sessions = build_session_factory(engine)
        payload = {"v": 1, "document_id": doc_id, "generation": 1, "lane": "interactive"}
        message = dramatiq.Message(queue_name="ingest", actor_name="ingest.process_document",
                                   args=(payload,), kwargs={}, options={})
        reason = "gave up after 3 deliveries (worker crashed or timed out each time)"
        dead_letter(sessions, message, reason)
        assert StatusStore(sessions).fail(doc_id, reason, generation=1)
    finally:
        engine.dispose()


def test_dead_letters_list_redrive_purge(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="documind-deadletters-"))
    stack, db = distributed_stack(root, redis_db=8)
    try:
        doc_file = tmp_path / "coffee.txt"
        doc_file.write_text((REPO / "examples" / "docs" / "coffee-brewing.txt").read_text())
        with stack.paused("ingest"):
            (doc,) = stack.cli("ingest", str(doc_file), "--json").json()
            _crash_loop_outcome(stack, doc["id"])
        # A message no worker can take: dead-lettered, not silently dropped into Dramatiq's queue.
        broker = _redis_broker(stack)
        broker.enqueue(dramatiq.Message(queue_name="ingest", actor_name="ingest.bogus", args=({},), kwargs={}, options={}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            letters = stack.cli("dead-letters", "list", "--json").json()
            if len(letters) == 2:
                break
            time.sleep(0.5)
        by_actor = {x["actor"]: x for x in letters}
        assert set(by_actor) == {"ingest.bogus", "ingest.process_document"}, letters
        assert "no actor named 'ingest.bogus'" in by_actor["ingest.bogus"]["reason"]
        assert stack.status(doc["id"])["status"] == "failed"

        shown = stack.cli("dead-letters", "show", str(by_actor["ingest.process_document"]["id"]), "--json").json()
        assert shown["payload"]["document_id"] == doc["id"]

        letter = str(by_actor["ingest.process_document"]["id"])
        out = stack.cli("dead-letters", "redrive", letter, "--wait", "--json").json()
        assert out[0]["redriven"] and "generation 2" in out[0]["done"], out
        final = stack.status(doc["id"])
        assert (final["status"], final["generation"]) == ("completed", 2), final
        assert stack.search("pour-over coffee", 1)[0]["document_id"] == doc["id"]

        again = stack.cli("dead-letters", "redrive", letter, check=False)
        assert again.code == 1 and "already re-driven" in again.stdout
        bogus = stack.cli("dead-letters", "redrive", str(by_actor["ingest.bogus"]["id"]), check=False)
        assert bogus.code == 1 and "no DocuMind actor" in bogus.stdout
        assert stack.cli("dead-letters", "list", "--json").json()[0]["actor"] == "ingest.bogus"  # pending only

        assert stack.cli("dead-letters", "purge", check=False).code == 2  # says what to purge
        assert stack.cli("dead-letters", "purge", "--redriven", "--json").json()["purged"] == 1
        assert stack.cli("dead-letters", "purge", "--all", "--dry-run", "--json").json()["would_purge"] == 1
        assert len(stack.cli("dead-letters", "list", "--all", "--json").json()) == 1
    finally:
        teardown(stack, db)
