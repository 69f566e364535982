"""Sending contracts: a service (or the CLI) addresses another service's actor by the name in
the contract, never by importing it."""

from __future__ import annotations

import dramatiq
from dramatiq.results import ResultBackend

from documind.contracts import Contract


class Bus:
    def __init__(self, broker: dramatiq.Broker, results: ResultBackend | None = None) -> None:
        self.broker = broker
        self.results = results

    @staticmethod
    def message(contract: Contract) -> dramatiq.Message:
        return dramatiq.Message(
            # Document work goes to its lane's queue and actor (contracts.Lane).
            queue_name=contract.queue,
            actor_name=contract.actor,
            args=(contract.payload(),),
            kwargs={},
            options={},
        )

    def send(self, contract: Contract, delay_ms: int | None = None) -> dramatiq.Message:
        return self.broker.enqueue(self.message(contract), delay=delay_ms)

    def call(self, contract: Contract, timeout_s: float = 60.0):  # noqa: ANN201
        """Send and block for the actor's result (needs the Results middleware)."""
        if self.results is None:
            raise RuntimeError("this bus has no results backend")
        message = self.send(contract)
        return message.get_result(backend=self.results, block=True, timeout=int(timeout_s * 1000))
