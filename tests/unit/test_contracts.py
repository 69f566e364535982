"""documind.contracts: payload()/parse() round trips and schema enforcement."""

from __future__ import annotations

import json
from typing import Any

import pytest

from documind.contracts import (
    ALL_CONTRACTS,
    CheckIndex,
    ChunkRange,
    ClassifyDocument,
    Contract,
    DeleteDocument,
    EmbedChunks,
    ExtractPages,
    FinishEnrichment,
    IndexChunks,
    OptimizeIndex,
    ProcessDocument,
    Queues,
    PruneQueryLog,
    RefreshPayload,
    TrainClassifier,
    RunBackup,
    RunCleanup,
    RunIndexCheck,
    SweepSearchCache,
    ReindexCollection,
    ReviewChunks,
    TrainModel,
    ActivateModel,
    RetrainClassifier,
    RunWatchdog,
    SearchBatch,
    SearchQuery,
)
from documind.errors import MalformedMessage, PermanentError

DOC = "0f8fad5b-d9cb-469f-a165-70867728950e"

SAMPLES: dict[type[Contract], dict[str, Any]] = {
    ProcessDocument: {"document_id": DOC, "generation": 2},
    ExtractPages: {"document_id": DOC, "generation": 1, "first_page": 26, "last_page": 50, "total_pages": 619},
    EmbedChunks: {"document_id": DOC, "generation": 1, "start": 0, "end": 128, "revision": True},
    IndexChunks: {"document_id": DOC, "generation": 3, "start": 128, "end": 200},
    DeleteDocument: {"document_id": DOC},
    SearchQuery: {"query": "what is a layout parser", "tenant": "acme", "top_k": 5, "document_ids": [DOC], "model": "m"},
    SearchBatch: {
        "queries": [{"id": "q1", "text": "layout parser"}, {"id": "2", "text": "ocr"}], "tenant": "acme",
        "top_k": 3, "mode": "keyword", "mime_types": ["application/pdf"], "labels": ["invoice"],
        "created_since": "2026-01-01T00:00:00Z", "created_until": "2026-02-01T00:00:00Z",
    },
    CheckIndex: {"tenant": "acme", "repair": True},
    ReindexCollection: {},
    OptimizeIndex: {"quantization": "scalar"},
    TrainModel: {"version": 3},
    ActivateModel: {"version": 1},
    RetrainClassifier: {"tenant": "acme", "embedding_model": "all-MiniLM-L6-v2"},
    RunWatchdog: {"stale_after_s": 12.5},
    PruneQueryLog: {"retention_days": 7},
    ClassifyDocument: {"document_id": DOC, "generation": 2, "tenant": "acme"},
    RefreshPayload: {"document_id": DOC, "generation": 2},
    ReviewChunks: {
        "document_id": DOC, "tenant": "acme", "generation": 2, "document_confidence": 0.62,
        "chunks": [{"idx": 3, "confidence": 0.41, "reasons": ["dictionary=0.35"]}],
    },
    FinishEnrichment: {"document_id": DOC, "generation": 2, "tenant": "acme"},
    TrainClassifier: {"tenant": "acme", "validated_examples": 12},
    RunIndexCheck: {},
    RunCleanup: {"dry_run": True},
    SweepSearchCache: {},
    RunBackup: {},
}

ids = [c.__name__ for c in ALL_CONTRACTS]


def test_every_contract_has_a_sample() -> None:
    assert set(SAMPLES) == set(ALL_CONTRACTS)


@pytest.mark.parametrize("contract", ALL_CONTRACTS, ids=ids)
def test_round_trip(contract: type[Contract]) -> None:
    work = contract(**SAMPLES[contract])
    payload = work.payload()
    assert payload["v"] == 1
    # What goes over the wire is JSON.
    wire = json.loads(json.dumps(payload))
    parsed = contract.parse(wire)
    assert type(parsed) is contract
    assert parsed == work
    assert parsed.payload() == payload
    for key, value in SAMPLES[contract].items():
        assert payload[key] == value


@pytest.mark.parametrize("contract", ALL_CONTRACTS, ids=ids)
def test_missing_required_field(contract: type[Contract]) -> None:
    required = [n for n, f in contract.model_fields.items() if f.is_required()]
    if not required:
        # Every field has a default (a scheduler sends no arguments).
        assert contract.parse({}) == contract()
        return
    for name in required:
        payload = {k: v for k, v in SAMPLES[contract].items() if k != name}
        with pytest.raises(MalformedMessage) as exc:
            contract.parse(payload)
        assert name in str(exc.value)
        assert contract.ACTOR in str(exc.value)


@pytest.mark.parametrize("contract", ALL_CONTRACTS, ids=ids)
def test_extra_field(contract: type[Contract]) -> None:
    with pytest.raises(MalformedMessage) as exc:
        contract.parse({**SAMPLES[contract], "file_bytes": "AAAA"})
    assert "file_bytes" in str(exc.value)


@pytest.mark.parametrize("contract", ALL_CONTRACTS, ids=ids)
def test_unknown_version(contract: type[Contract]) -> None:
    with pytest.raises(MalformedMessage):
        contract.parse({**SAMPLES[contract], "v": 2})
    # v=1 explicitly is fine.
    assert contract.parse({**SAMPLES[contract], "v": 1}).v == 1


@pytest.mark.parametrize("contract", ALL_CONTRACTS, ids=ids)
@pytest.mark.parametrize("payload", ["not an object", ["a", "list"], 42])
def test_non_object_payload(contract: type[Contract], payload: Any) -> None:
    with pytest.raises(MalformedMessage):
        contract.parse(payload)


def test_malformed_message_is_permanent() -> None:
    assert issubclass(MalformedMessage, PermanentError)


@pytest.mark.parametrize("contract", [EmbedChunks, IndexChunks], ids=["EmbedChunks", "IndexChunks"])
@pytest.mark.parametrize(("start", "end"), [(5, 5), (10, 3), (0, 0)])
def test_chunk_range_end_must_exceed_start(contract: type[ChunkRange], start: int, end: int) -> None:
    with pytest.raises(MalformedMessage):
        contract.parse({"document_id": DOC, "generation": 1, "start": start, "end": end})


@pytest.mark.parametrize(
    ("contract", "payload"),
    [
        (ProcessDocument, {"document_id": DOC, "generation": 0}),
        (ProcessDocument, {"document_id": "", "generation": 1}),
        (ProcessDocument, {"document_id": "x" * 37, "generation": 1}),
        (EmbedChunks, {"document_id": DOC, "generation": 1, "start": -1, "end": 3}),
        (SearchQuery, {"query": "", "tenant": "t"}),
        (SearchQuery, {"query": "q", "tenant": "t", "top_k": 0}),
        (SearchQuery, {"query": "q", "tenant": "t", "mode": "fuzzy"}),
        (SearchQuery, {"query": "q", "tenant": "t", "created_since": "2026-02-01", "created_until": "2026-01-01"}),
        (SearchBatch, {"queries": [], "tenant": "t"}),
        (SearchBatch, {"queries": [{"id": "1", "text": ""}], "tenant": "t"}),
        (RunWatchdog, {"stale_after_s": -1}),
    ],
)
def test_field_constraints(contract: type[Contract], payload: dict[str, Any]) -> None:
    with pytest.raises(MalformedMessage):
        contract.parse(payload)


def test_contracts_are_immutable() -> None:
    work = ProcessDocument(document_id=DOC, generation=1)
    with pytest.raises(Exception):
        work.generation = 2  # type: ignore[misc]


@pytest.mark.parametrize("contract", ALL_CONTRACTS, ids=ids)
def test_queue_is_declared(contract: type[Contract]) -> None:
    assert contract.QUEUE in Queues.ALL


def test_actor_names_are_unique() -> None:
    actors = [c.ACTOR for c in ALL_CONTRACTS]
    assert len(actors) == len(set(actors))


def test_queue_names_are_unique() -> None:
    assert len(Queues.ALL) == len(set(Queues.ALL))


def test_actor_names_are_prefixed_by_their_service() -> None:
    for contract in ALL_CONTRACTS:
        service, _, name = contract.ACTOR.partition(".")
        assert service and name, contract.ACTOR


def test_extract_pages_refuses_a_range_outside_the_document():
    with pytest.raises(MalformedMessage):
        ExtractPages.parse({"document_id": DOC, "generation": 1, "first_page": 30, "last_page": 20, "total_pages": 619})
    with pytest.raises(MalformedMessage):
        ExtractPages.parse({"document_id": DOC, "generation": 1, "first_page": 1, "last_page": 25, "total_pages": 10})
