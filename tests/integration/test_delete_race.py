"""Deletion racing ingestion: whatever stage a document is in when it is deleted, no point of
it survives in Qdrant and search never returns it (docs/design.md rule 4)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration

TOPICS = [
    "glaciers carve U-shaped valleys as the ice grinds the bedrock beneath it",
    "sourdough starters ferment flour with wild yeast and lactic acid bacteria",
    "lighthouses warned ships with rotating lenses that focused a single flame",
    "honeybees dance in figure eights to tell the hive where the flowers are",
    "copper roofs turn green as a patina of carbonates forms over the decades",
    "chess engines search millions of positions each second with alpha-beta pruning",
    "monsoon winds reverse direction with the seasons and bring summer rain",
    "violin makers carve spruce tops and maple backs and tune the plates by ear",
    "tardigrades survive freezing and drying by turning into dormant tuns",
    "suspension bridges hang the deck from cables draped over two tall towers",
]


def _wait_final(stack, ids: list[str], timeout: float = 600) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        docs = {i: stack.status(i) for i in ids}
        if all(d["status"] in ("completed", "failed", "deleted", "cancelled") for d in docs.values()):
            return docs
        time.sleep(1)
    raise AssertionError(f"documents not final after {timeout} s: {docs}")


def test_delete_racing_ingest_leaves_no_point_behind(stack, tmp_path):
    if stack.mode != "distributed":
        pytest.skip("the race needs the ingest running in workers while another process deletes")
    folder = tmp_path / "race"
    folder.mkdir()
    for i, topic in enumerate(TOPICS):
        # Several paragraphs each, so documents spend a while in every stage.
        (folder / f"topic-{i}.txt").write_text("\n\n".join(f"{topic} (part {k})." for k in range(40)))
    docs = stack.cli("ingest", str(folder), "--json").json()
    by_name = {d["source_name"]: d["id"] for d in docs}
    doomed = [by_name[f"topic-{i}.txt"] for i in range(0, len(TOPICS), 2)]
    kept = [by_name[f"topic-{i}.txt"] for i in range(1, len(TOPICS), 2)]
    # Delete at staggered moments, so the fence meets documents in different stages.
    for n, doc_id in enumerate(doomed):
        time.sleep(0.3 * n)
        stack.cli("delete", doc_id, "--json")

    final = _wait_final(stack, doomed + kept)
    assert all(final[d]["status"] == "deleted" for d in doomed), final
    assert all(final[d]["status"] == "completed" for d in kept), final
    time.sleep(3)  # let any index message that was already running finish its write-and-recheck

    for i, topic in enumerate(TOPICS):
        hits = stack.search(topic, 5)
        ids = [h["document_id"] for h in hits]
        assert not set(ids) & set(doomed), (topic, ids)
        if i % 2:
            assert ids and ids[0] == by_name[f"topic-{i}.txt"], (topic, ids)

    with stack.paused("search"):
        from qdrant_client import QdrantClient, models

        client = QdrantClient(path=stack.env["DOCUMIND_QDRANT_PATH"])
        try:
            for doc_id in doomed + kept:
                flt = models.Filter(must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=doc_id))])
                n = client.count(stack.env.get("DOCUMIND_QDRANT_COLLECTION", "documind_chunks"), count_filter=flt, exact=True).count
                expected = 0 if doc_id in doomed else final[doc_id]["chunk_count"]
                assert n == expected, (doc_id, n, expected)
        finally:
            client.close()
