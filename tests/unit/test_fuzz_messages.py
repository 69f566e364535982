"""Property-based fuzzing of message decoding: every contract parsed from arbitrary JSON-like
payloads (and from mutations of valid ones) either returns a valid contract or raises
MalformedMessage; a message of the wrong shape or for an unknown actor is dead-lettered,
never crashes the middleware or the worker.

Example counts: ``pytest --hypothesis-show-statistics``; more with HYPOTHESIS_PROFILE=long."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import func, select

from documind.contracts import ALL_CONTRACTS, Contract, Queues, RunWatchdog, SearchQuery, known_contracts
from documind.db.models import DeadLetter
from documind.errors import MalformedMessage
from documind.middleware.unroutable import unroutable_reason
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.tasks import declare

from tests.unit.fuzzing import JSON_VALUES, fuzz_settings

DOC = "0f8fad5b-d9cb-469f-a165-70867728950e"
# One valid payload per contract, every optional field set where it has one.
VALID: dict[type[Contract], dict[str, Any]] = {}
_SAMPLES = {
    "ingest.process_document": {"document_id": DOC, "generation": 1, "tenant": "acme", "lane": "bulk"},
    "ingest.extract_pages": {"document_id": DOC, "generation": 2, "first_page": 1, "last_page": 8,
                             "total_pages": 20, "lane": "interactive"},
    "embed.embed_chunks": {"document_id": DOC, "generation": 1, "start": 0, "end": 64, "tenant": "acme"},
    "search.index_chunks": {"document_id": DOC, "generation": 1, "start": 64, "end": 128, "revision": True},
    "search.delete_document": {"document_id": DOC, "tenant": "acme"},
    "search.query": {"tenant": "acme", "query": "hermit crabs", "top_k": 5, "mode": "hybrid",
                     "document_ids": [DOC], "mime_types": ["application/pdf"], "labels": ["x"],
                     "entities": ["PERSON:ann lee"], "created_since": "2026-01-01T00:00:00Z", "created_until": "2026-02-01T00:00:00Z",
                     "model": "all-MiniLM-L6-v2"},
    "search.query_batch": {"tenant": "acme", "queries": [{"id": "q1", "text": "tide pools"}], "mode": "keyword"},
    "search.check_index": {"tenant": "acme", "repair": True},
    "search.reindex": {},
    "search.optimize_index": {"quantization": "scalar"},
    "embed.train_model": {"version": 2},
    "search.activate_model": {"version": 1},
    "embed.retrain_classifier": {"tenant": "acme", "embedding_model": "all-MiniLM-L6-v2"},
    "embed.train_classifier": {"tenant": "acme", "validated_examples": 12},
    "maintenance.watchdog": {"stale_after_s": 600.0},
    "maintenance.prune_query_log": {"retention_days": 30},
    "embed.classify_document": {"document_id": DOC, "generation": 3, "tenant": "acme"},
    "search.refresh_payload": {"document_id": DOC, "generation": 3, "tenant": "acme"},
    "validate.review_chunks": {"document_id": DOC, "generation": 1, "tenant": "acme", "lane": "bulk",
                               "document_confidence": 0.5, "chunks": [{"idx": 0, "confidence": 0.2, "reasons": ["x"]}]},
    "embed.finish_enrichment": {"document_id": DOC, "generation": 1, "tenant": "acme", "lane": "interactive"},
    "maintenance.index_check": {},
    "maintenance.cleanup": {"dry_run": True},
    "maintenance.sweep_search_cache": {},
    "maintenance.backup": {},
}
for _c in ALL_CONTRACTS:
    VALID[_c] = {"v": 1, **_SAMPLES[_c.ACTOR]}

# Values that sit on the edges of the contracts' types and rules.
EDGE_VALUES = st.sampled_from([
    0, -1, 1, 2**31, 2**63, -(2**63), 10**30, 0.5, 1e308, float("inf"), float("-inf"), float("nan"), True, False,
    "", " ", "1", "acme", "ACME", "a" * 300, "x\x00y", "\u202e", "2026-01-01", "2026-01-01T00:00:00",
    "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+05:00", "9999-12-31T23:59:59", "0000-00-00", "bulk",
    "interactive", "dense", "scalar", [], {}, [None], {"id": "q", "text": "t"}, [{"id": "q", "text": "t"}],
])
ANY_VALUE = JSON_VALUES | EDGE_VALUES


def check_parse(contract: type[Contract], payload: Any) -> None:
    """The property: MalformedMessage, or a contract that survives the wire (payload() is
    strict JSON and parses back to an equal contract)."""
    try:
        work = contract.parse(payload)
    except MalformedMessage:
        return
    assert isinstance(work, contract)
    wire = json.dumps(work.payload(), allow_nan=False)
    assert contract.parse(json.loads(wire)) == work


@fuzz_settings(300)
@given(contract=st.sampled_from(ALL_CONTRACTS), payload=ANY_VALUE)
def test_arbitrary_payloads_parse_or_raise_malformed(contract: type[Contract], payload: Any) -> None:
    check_parse(contract, payload)


@st.composite
def keyed_payloads(draw: st.DrawFn) -> tuple[type[Contract], dict]:
    """Dicts with the contract's own field names (plus strangers): deeper into validation."""
    contract = draw(st.sampled_from(ALL_CONTRACTS))
    keys = st.sampled_from(sorted(contract.model_fields)) | st.text(max_size=8)
    return contract, draw(st.dictionaries(keys, ANY_VALUE, max_size=8))


@fuzz_settings(300)
@given(case=keyed_payloads())
def test_payloads_with_the_contracts_field_names_parse_or_raise_malformed(case: tuple[type[Contract], dict]) -> None:
    check_parse(*case)


def typed_values(contract: type[Contract], name: str) -> st.SearchStrategy[Any]:
    """Values of the field's own JSON type, edges included (in-type edges are where the
    validators' own code runs: comparisons, ranges, non-finite floats)."""
    field = contract.model_fields.get(name)
    kind = str(field.annotation) if field is not None else ""
    if "datetime" in kind:
        # Naive and aware, as clients send them.
        return st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())
    if "float" in kind:
        return st.floats()
    if "int" in kind:
        return st.integers()
    if "bool" in kind:
        return st.booleans()
    if "list" in kind:
        return st.lists(st.text(max_size=10) | JSON_VALUES, max_size=4)
    return st.text(max_size=20)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> tuple[type[Contract], Any]:
    """A valid payload with a few fields dropped, replaced (by a value of the field's type,
    or by anything) or added, or nested in a list; sent as an object, a list or a string."""
    contract = draw(st.sampled_from(ALL_CONTRACTS))
    payload = dict(VALID[contract])
    names = sorted(contract.model_fields)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["typed", "typed", "typed", "drop", "replace", "add", "wrap"]))
        name = draw(st.sampled_from(names))
        if op == "typed":
            payload[name] = draw(typed_values(contract, name))
        elif op == "drop":
            payload.pop(name, None)
        elif op == "replace":
            payload[name] = draw(ANY_VALUE)
        elif op == "add":
            payload[draw(st.sampled_from(names) | st.text(max_size=8))] = draw(ANY_VALUE)
        else:
            payload[name] = [payload.get(name)]
    return contract, draw(st.sampled_from([payload, payload, payload, [payload], json.dumps(payload)]))


def test_valid_samples_are_valid() -> None:
    # The mutations start from valid payloads, or they would test nothing.
    for contract, payload in VALID.items():
        assert contract.parse(payload).payload() == contract.parse(contract.parse(payload).payload()).payload()


@fuzz_settings(400)
@given(case=mutated_payloads())
# Comparing a naive with an aware date raised TypeError in the validator (not a validation error).
@example(case=(SearchQuery, {**VALID[SearchQuery], "created_since": "2026-01-01T00:00:00"}))
# An infinite stale_after_s passed ge=0 and went on the wire as null (the watchdog: timedelta(inf)).
@example(case=(RunWatchdog, {"stale_after_s": float("inf")}))
def test_mutated_valid_payloads_parse_or_raise_malformed(case: tuple[type[Contract], Any]) -> None:
    check_parse(*case)


# ---- the unroutable middleware: shape and actor checks ------------------------------------------


@pytest.fixture(scope="module")
def actor_broker() -> StubBroker:
    """A broker that declares every DocuMind actor name (and nothing runs)."""
    broker = StubBroker()
    for name, contract in known_contracts().items():
        dramatiq.actor(lambda payload=None: None, broker=broker, actor_name=name, queue_name=contract.QUEUE)
    return broker


NAMES = st.sampled_from(sorted(known_contracts())) | st.text(max_size=30)


@fuzz_settings(300)
@given(
    actor=NAMES | JSON_VALUES,  # Message.decode takes any JSON value for any field
    queue=st.sampled_from(Queues.ALL) | JSON_VALUES,
    args=st.lists(ANY_VALUE, max_size=3).map(tuple),  # Message.decode makes args a tuple
    kwargs=st.dictionaries(st.text(max_size=8), ANY_VALUE, max_size=3) | JSON_VALUES,
)
# Found by this test (TypeError each): an unhashable actor name, None as the name (sliced),
# kwargs that are no dict (len() of None).
@example(actor=[], queue="ingest", args=(), kwargs={})
@example(actor=None, queue="ingest", args=(), kwargs={})
@example(actor="embed.embed_chunks", queue="embed", args=(), kwargs=None)
def test_unroutable_reason_names_every_bad_shape(actor_broker: StubBroker, actor: Any, queue: Any, args: Any,
                                                 kwargs: Any) -> None:
    message = dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs=kwargs, options={})
    reason = unroutable_reason(actor_broker, message)
    routable = (
        isinstance(actor, str) and actor in known_contracts()
        and len(args) <= 1 and (not args or isinstance(args[0], (dict, type(None))))
        and isinstance(kwargs, dict) and not kwargs
    )
    assert (reason is None) == routable, (reason, actor, args, kwargs)
    if reason is not None:
        assert isinstance(reason, str) and "\n" not in reason[:200]


# ---- the whole path: messages through a StubBroker worker ----------------------------------------


@pytest.fixture
def wired(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Runtime, list]]:
    """An embedded runtime (StubBroker, SQLite) with every contract's actors declared and one
    worker running: shared by all examples of a test (counts are compared before and after)."""
    rt = build_runtime(load_settings(data_dir=tmp_path, worker_threads=1, max_retries=0), configure_logs=False)
    calls: list[Contract] = []
    for contract in ALL_CONTRACTS:
        declare(rt, contract, calls.append)
    worker = dramatiq.Worker(rt.broker, worker_threads=1, worker_timeout=20)
    worker.start()
    yield rt, calls
    worker.stop()
    rt.close()


def _dead_letters(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(DeadLetter)) or 0)


def _takes(contract: type[Contract] | None, args: tuple, kwargs: dict) -> bool:
    """Whether the actor accepts the message: one JSON object (or none) that parses."""
    if contract is None or kwargs or len(args) > 1 or (args and not isinstance(args[0], (dict, type(None)))):
        return False
    try:
        contract.parse({} if not args or args[0] is None else args[0])
    except MalformedMessage:
        return False
    return True


@fuzz_settings(150, deadline_ms=10_000)
@given(
    actor=NAMES,
    args=st.one_of(
        ANY_VALUE.map(lambda p: (p,)),
        mutated_payloads().map(lambda case: (case[1],)),
        st.lists(ANY_VALUE, max_size=3).map(tuple),
    ),
    kwargs=st.just({}) | st.dictionaries(st.text(min_size=1, max_size=8), ANY_VALUE, max_size=2),
)
def test_worker_dead_letters_what_it_cannot_take(
    wired: tuple[Runtime, list], actor: str, args: tuple, kwargs: dict
) -> None:
    runtime, calls = wired
    contract = known_contracts().get(actor)
    queue = runtime.broker.get_actor(actor).queue_name if contract else Queues.INGEST
    message = dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs=kwargs, options={})
    before_letters, before_calls = _dead_letters(runtime), len(calls)

    runtime.broker.enqueue(message)
    runtime.broker.join(queue, fail_fast=False, timeout=20_000)

    letters = _dead_letters(runtime) - before_letters
    handled = len(calls) - before_calls
    if _takes(contract, args, kwargs):
        # A valid contract: handled (or dropped by the tenant fence), never dead-lettered.
        assert letters == 0 and handled <= 1, (actor, args)
    else:
        # Exactly one row in our dead-letter table (a crash in the middleware would leave none:
        # Dramatiq's own dead-letter queue, which also takes rejected messages, is not read).
        assert (letters, handled) == (1, 0), (actor, args, kwargs)
