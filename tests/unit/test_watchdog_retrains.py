"""The watchdog's backstop for lost classifier retrains on the embedded runtime (SQLite,
in-process broker, no worker consuming): a classifier of another embedding model than the
active one gets ``RetrainClassifier`` for the active model, at most
``DOCUMIND_WATCHDOG_FOLLOWUP_BATCH`` per run; nothing more while one waits in the broker or
within ``DOCUMIND_CLASSIFIER_RETRAIN_RESEND_AFTER_S`` of the last re-send or model switch;
classifiers of the active model are left alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import update

from documind.contracts import Queues, RunWatchdog
from documind.db.engine import transaction
from documind.db.models import LabelClassifier, ModelStatus, ModelVersion, utcnow
from documind.embedding import base_version_name
from documind.locks import FileJobLock
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind_maintenance.watchdog import Watchdog


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path, worker_threads=1, watchdog_followup_batch=2),
                       configure_logs=False)
    yield rt
    rt.close()


def classifier(rt: Runtime, tenant: str, model: str, *, hours_ago: float) -> None:
    with transaction(rt.sessions) as s:
        s.add(LabelClassifier(tenant=tenant, embedding_model=model, labels=["a"], weights=b"", bias=b"",
                              examples=1, report={}, trained_at=utcnow() - timedelta(hours=hours_ago)))


def retrain_messages(rt: Runtime) -> list[tuple[str, str]]:
    from dramatiq import Message

    messages = [Message.decode(raw) for raw in list(rt.broker.queues[Queues.EMBED].queue)]
    return [(m.args[0]["tenant"], m.args[0]["embedding_model"]) for m in messages
            if m.actor_name == "embed.retrain_classifier"]


def run(rt: Runtime) -> list[str]:
    out = Watchdog(rt, FileJobLock(rt.settings.data_dir / "locks")).run(RunWatchdog(stale_after_s=60))
    return out["classifier_retrains_resent"]


def test_lost_retrains_are_resent_bounded_once_per_period(runtime: Runtime) -> None:
    rt = runtime
    active = base_version_name(rt.settings)  # no model version row: the packaged model (version 1) is active
    for n, tenant in enumerate(("t1", "t2", "t3")):
        classifier(rt, tenant, "gone-model", hours_ago=10 - n)
    classifier(rt, "current", active, hours_ago=20)

    assert run(rt) == ["t1", "t2"]  # the batch, longest waiting first
    assert retrain_messages(rt) == [("t1", active), ("t2", active)]
    assert run(rt) == ["t3"]  # t1, t2: re-sent within the period (and still queued)
    assert rt.metrics.watchdog_classifiers.labels("resent")._value.get() == 3

    # Past the period, but the re-sent message still waits in the broker: not lost.
    with transaction(rt.sessions) as s:
        s.execute(update(LabelClassifier).values(retrain_sent_at=utcnow() - timedelta(days=1)))
    assert run(rt) == []
    assert rt.metrics.watchdog_classifiers.labels("queued")._value.get() == 2
    assert len(retrain_messages(rt)) == 3

    # Queue emptied (the messages lost), but a model switch just happened: its own messages
    # get the period first.
    rt.broker.flush_all()
    for m in list(rt.pending._open):  # noqa: SLF001 - the in-process broker's lost messages
        rt.pending._close(m)  # noqa: SLF001
    with transaction(rt.sessions) as s:
        s.add(ModelVersion(version=2, name="m-v2", base_model=active, parent_version=1, status=ModelStatus.RETIRED,
                           retired_at=utcnow()))
    assert run(rt) == []
    with transaction(rt.sessions) as s:
        s.execute(update(ModelVersion).values(retired_at=utcnow() - timedelta(days=1)))
    assert run(rt) == ["t1", "t2"]
