"""Each service's composition root builds a broker carrying exactly its own actors."""

from __future__ import annotations

import importlib

import pytest

from documind.contracts import ALL_CONTRACTS, LANED_CONTRACTS

EXPECTED = {
    # Document stages have a bulk-lane twin (contracts.Lane).
    "ingest": {"ingest.process_document", "ingest.process_document_bulk", "ingest.extract_pages", "ingest.extract_pages_bulk"},
    "embed": {"embed.embed_chunks", "embed.embed_chunks_bulk", "embed.classify_document", "embed.finish_enrichment",
              "embed.finish_enrichment_bulk", "embed.train_model", "embed.retrain_classifier",
              "embed.train_classifier"},
    "search": {
        "search.index_chunks", "search.index_chunks_bulk", "search.delete_document", "search.query", "search.query_batch",
        "search.check_index", "search.reindex", "search.optimize_index", "search.refresh_payload",
        "search.activate_model",
    },
    "validate": {"validate.review_chunks"},
    "maintenance": {
        "maintenance.watchdog", "maintenance.prune_query_log", "maintenance.index_check", "maintenance.cleanup",
        "maintenance.sweep_search_cache", "maintenance.backup",
    },
}


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_setup_declares_the_service_actors(service, clean_env, tmp_path):
    clean_env.setenv("DOCUMIND_DATA_DIR", str(tmp_path))
    broker = importlib.import_module(f"documind_{service}.worker").setup()
    try:
        assert set(broker.actors) == EXPECTED[service]
    finally:
        broker.close()


def test_every_contract_has_a_consumer():
    consumed = set().union(*EXPECTED.values())
    assert {c.ACTOR for c in ALL_CONTRACTS} | {c.ACTOR + "_bulk" for c in LANED_CONTRACTS} == consumed
