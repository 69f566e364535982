"""The watchdog's backstop for lost classifier retrains.

``documind model activate`` / ``rollback`` send ``RetrainClassifier`` for every tenant whose
supervised classifier was trained in another embedding model's space; until it runs, the
tenant is classified zero-shot and ``labels list`` shows the classifier "NOT in use". If the
message is lost (a broker restart, a worker killed mid-run past its retries), nothing asks
again. Each watchdog run re-sends it for classifiers that

- are of an embedding model other than the active one,
- and whose last model switch (``model_versions.activated_at`` / ``retired_at``) and last
  re-send (``label_classifiers.retrain_sent_at``) are older than
  ``DOCUMIND_CLASSIFIER_RETRAIN_RESEND_AFTER_S``: the activation's own message gets that long,
  and a classifier that cannot be rebuilt (no stored examples) is asked once per period, not
  every run;
- and have no ``RetrainClassifier`` for the active model still in the broker (queued,
  delayed or running): waiting behind a backlog is not lost.

At most ``DOCUMIND_WATCHDOG_FOLLOWUP_BATCH`` per run, the oldest first. Redelivery trains
nothing twice: the embed service's retrain holds the tenant's training lock and leaves a
classifier already of the active model as it is (``documind_embed.retrain``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from documind.contracts import RetrainClassifier
from documind.db.engine import transaction
from documind.db.models import LabelClassifier, ModelVersion, utcnow
from documind.logging import get_logger
from documind.model_registry import build_registry
from documind.pending import PendingWork
from documind.runtime import Runtime


@dataclass
class ClassifierRetrains:
    runtime: Runtime

    def run(self, pending: PendingWork) -> list[str]:
        """Re-send the lost retrains; returns the tenants re-sent."""
        rt = self.runtime
        st = rt.settings
        cutoff = utcnow() - timedelta(seconds=st.classifier_retrain_resend_after_s)
        with rt.sessions() as s:
            times = s.execute(select(func.max(ModelVersion.activated_at), func.max(ModelVersion.retired_at))).one()
        last_switch = max((t for t in times if t is not None), default=None)
        if last_switch is not None and last_switch >= cutoff:
            return []  # the switch's own messages are still within their time
        active = build_registry(rt).active().name
        with rt.sessions() as s:
            tenants = list(s.scalars(
                select(LabelClassifier.tenant)
                .where(LabelClassifier.embedding_model != active,
                       or_(LabelClassifier.retrain_sent_at.is_(None), LabelClassifier.retrain_sent_at < cutoff))
                .order_by(func.coalesce(LabelClassifier.retrain_sent_at, LabelClassifier.trained_at),
                          LabelClassifier.tenant)
                .limit(st.watchdog_followup_batch)
            ))
        if not tenants:
            return []
        waiting = pending.snapshot().retrains
        queued = [t for t in tenants if (t, active) in waiting]
        lost = [t for t in tenants if (t, active) not in waiting]
        metric = rt.metrics.watchdog_classifiers
        if queued:
            metric.labels("queued").inc(len(queued))
        if not lost:
            return []
        # Marked before sending: a crash in between costs one period, never a flood of copies.
        with transaction(rt.sessions) as s:
            s.execute(update(LabelClassifier).where(LabelClassifier.tenant.in_(lost))
                      .values(retrain_sent_at=utcnow()))
        for tenant in lost:
            rt.bus.send(RetrainClassifier(tenant=tenant, embedding_model=active))
        metric.labels("resent").inc(len(lost))
        get_logger("documind.watchdog").warning("lost classifier retrains re-sent", tenants=len(lost),
                                                embedding_model=active)
        return lost
