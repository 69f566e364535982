"""Embedding model versions (``model_versions``): which model is active, where a fine-tuned
one is stored, and the life of each version (training -> candidate|rejected|failed ->
active -> retired).

Version 1 is the packaged model (``DOCUMIND_EMBEDDING_MODEL``) run by the configured backend
(``DOCUMIND_ENCODER_BACKEND``: its installed int8 ONNX export, or torch) and has no row: it is
the active one while no row is. Its name carries the backend when that is not torch
(``<model>-onnx-int8``), since the two backends' vectors differ; the packaged model on the
other backend resolves as version 0, so a collection made with it keeps being queried with it
until ``model activate 1`` re-embeds it with the configured one. A fine-tuned version is
named ``<base>-ft-v<N>``; that name is what chunk rows (``embedding_model``), point ids and
the collection's metadata carry, so a vector can always be traced to the model that made it. Its files live in the file store
(``models/v<N>``), written by training, never downloaded.

A version may also be an ONNX Runtime export of another version (``documind model
export-onnx``; ``backend`` "onnx-int8" or "onnx-fp32", named ``<base>-<backend>-v<N>``): its
vectors differ from its source's, so the index treats it as a model of its own, and whatever
loads a version's encoder (embedding, queries against the live collection, re-embedding) loads
it with the version's backend."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select

from documind.db.models import ModelStatus, ModelVersion, utcnow
from documind.embedding import (
    model_dimension, model_path, packaged_export_dir, packaged_version_name, parse_packaged,
)
from documind.errors import PermanentError

BASE_VERSION = 1


class ModelVersionError(PermanentError):
    """An unknown version, or one that cannot do what was asked (e.g. activate a rejected one)."""


@dataclass(frozen=True)
class ModelRef:
    version: int
    name: str
    path: Path
    dimension: int
    backend: str = "torch"


def version_name(base_model: str, version: int) -> str:
    return f"{base_model}-ft-v{version}"


@dataclass
class ModelRegistry:
    sessions: Any
    base_model: str  # DOCUMIND_EMBEDDING_MODEL: version 1
    storage_dir: Path  # the file store; model folders are relative to it
    base_backend: str = "torch"  # DOCUMIND_ENCODER_BACKEND: what runs version 1

    # ---- resolving ---------------------------------------------------------------------
    def base(self) -> ModelRef:
        return self._packaged(BASE_VERSION, self.base_model, self.base_backend)

    @staticmethod
    def _packaged(version: int, model: str, backend: str) -> ModelRef:
        path = model_path(model) if backend == "torch" else packaged_export_dir(model, backend)
        return ModelRef(version, packaged_version_name(model, backend), path, model_dimension(model), backend)

    @property
    def base_name(self) -> str:
        return packaged_version_name(self.base_model, self.base_backend)

    def _ref(self, row: ModelVersion) -> ModelRef:
        if not row.path:
            raise ModelVersionError(f"model version {row.version} has no saved model (status {row.status.value})")
        return ModelRef(
            row.version, row.name, self.storage_dir / row.path, model_dimension(row.base_model), row.backend or "torch"
        )

    def get(self, version: int) -> ModelRef:
        if version == BASE_VERSION:
            return self.base()
        with self.sessions() as s:
            row = s.get(ModelVersion, version)
            if row is None:
                raise ModelVersionError(f"no model version {version}")
            return self._ref(row)

    def by_name(self, name: str) -> ModelRef:
        """The model that wrote vectors stamped ``name`` (a packaged model is version 1 only
        when it is the configured base on the configured backend; another packaged one, or the
        same on the other backend, is resolved as version 0)."""
        if name == self.base_name:
            return self.base()
        with self.sessions() as s:
            row = s.scalars(select(ModelVersion).where(ModelVersion.name == name)).first()
            if row is not None:
                return self._ref(row)
        packaged = parse_packaged(name)
        if packaged is None:
            model_path(name)  # raises: an unknown model
            raise ModelVersionError(f"unknown model {name!r}")
        return self._packaged(0, *packaged)

    def base_of(self, name: str) -> str:
        """The packaged model that the version named ``name`` was made from (``name`` itself
        for a packaged model on torch or an unknown name; the model for its export)."""
        packaged = parse_packaged(name)
        if packaged is not None:
            return packaged[0]
        with self.sessions() as s:
            base = s.scalar(select(ModelVersion.base_model).where(ModelVersion.name == name))
        return str(base) if base is not None else name

    def active(self) -> ModelRef:
        with self.sessions() as s:
            row = s.scalars(select(ModelVersion).where(ModelVersion.status == ModelStatus.ACTIVE)).first()
            return self._ref(row) if row is not None else self.base()

    def active_version(self) -> int:
        with self.sessions() as s:
            v = s.scalar(select(ModelVersion.version).where(ModelVersion.status == ModelStatus.ACTIVE))
            return int(v) if v is not None else BASE_VERSION

    # ---- training -----------------------------------------------------------------------
    def create(self, *, parent: ModelRef, pairs_path: str | None, params: dict[str, Any]) -> int:
        with self.sessions.begin() as s:
            last = s.scalar(select(func.max(ModelVersion.version))) or BASE_VERSION
            version = int(last) + 1
            s.add(
                ModelVersion(
                    version=version, name=version_name(self.base_model, version), base_model=self.base_model,
                    parent_version=parent.version, pairs_path=pairs_path, status=ModelStatus.TRAINING,
                    params=params, progress={}, metrics={},
                )
            )
        return version

    def create_export(self, *, source: ModelRef, backend: str, params: dict[str, Any]) -> int:
        """A new version for an export of ``source`` run by ``backend``, status ``training``
        until its files are written (then ``candidate``, or ``failed``)."""
        with self.sessions.begin() as s:
            last = s.scalar(select(func.max(ModelVersion.version))) or BASE_VERSION
            version = int(last) + 1
            s.add(
                ModelVersion(
                    version=version, name=f"{self.base_model}-{backend}-v{version}", base_model=self.base_model,
                    parent_version=source.version, pairs_path=None, status=ModelStatus.TRAINING, backend=backend,
                    params=params, progress={}, metrics={},
                )
            )
        return version

    def torch_source(self, ref: ModelRef) -> ModelRef:
        """The torch model ``ref`` runs (itself, or the version an export was made from): what
        training and exporting start from. The packaged model's is the package's own files."""
        seen = set()
        while ref.backend != "torch":
            if ref.version in (0, BASE_VERSION):
                packaged = parse_packaged(ref.name)
                assert packaged is not None, ref
                return self._packaged(ref.version, packaged[0], "torch")
            if ref.version in seen:
                raise ModelVersionError(f"model version {ref.version}: its parents form a cycle")
            seen.add(ref.version)
            ref = self.get(int(self.row(ref.version)["parent_version"]))
        return ref

    def row(self, version: int) -> dict[str, Any]:
        with self.sessions() as s:
            row = s.get(ModelVersion, version)
            if row is None:
                raise ModelVersionError(f"no model version {version}")
            return _as_dict(row)

    def update(self, version: int, **values: Any) -> None:
        with self.sessions.begin() as s:
            row = s.get(ModelVersion, version)
            if row is None:
                raise ModelVersionError(f"no model version {version}")
            for key, value in values.items():
                setattr(row, key, value)

    def progress_writer(self, version: int, min_interval_s: float = 2.0) -> Callable[[dict[str, Any]], None]:
        """A callback for the trainer: writes progress at most every ``min_interval_s`` (and
        always the last step), so a long run does not write a row per step."""
        last = [0.0]

        def write(progress: dict[str, Any]) -> None:
            now = time.monotonic()
            if now - last[0] >= min_interval_s or progress.get("step") == progress.get("total"):
                last[0] = now
                self.update(version, progress=dict(progress))

        return write

    # ---- activation ---------------------------------------------------------------------
    def check_activatable(self, version: int) -> ModelRef:
        if version == BASE_VERSION:
            return self.base()
        with self.sessions() as s:
            row = s.get(ModelVersion, version)
            if row is None:
                raise ModelVersionError(f"no model version {version}")
            if row.status not in (ModelStatus.CANDIDATE, ModelStatus.RETIRED, ModelStatus.ACTIVE):
                raise ModelVersionError(
                    f"model version {version} is {row.status.value}; only a candidate or a retired version "
                    f"can be activated"
                )
            return self._ref(row)

    def mark_active(self, version: int) -> int:
        """Record ``version`` as the active model (after its collection went live); the one it
        replaces is retired. Returns the replaced version."""
        now = utcnow()
        with self.sessions.begin() as s:
            current = s.scalars(
                select(ModelVersion).where(ModelVersion.status == ModelStatus.ACTIVE).with_for_update()
            ).first()
            previous = current.version if current is not None else BASE_VERSION
            if previous == version:
                return previous
            if current is not None:
                current.status, current.retired_at = ModelStatus.RETIRED, now
            if version != BASE_VERSION:
                row = s.get(ModelVersion, version)
                row.status, row.activated_at, row.previous_version = ModelStatus.ACTIVE, now, previous
        return previous

    def rollback_target(self) -> int:
        """The version that was active before the active one."""
        with self.sessions() as s:
            row = s.scalars(select(ModelVersion).where(ModelVersion.status == ModelStatus.ACTIVE)).first()
            if row is None:
                raise ModelVersionError("the packaged base model (version 1) is active: nothing to roll back to")
            return int(row.previous_version or BASE_VERSION)

    def list(self) -> list[dict[str, Any]]:
        with self.sessions() as s:
            rows = [_as_dict(r) for r in s.scalars(select(ModelVersion).order_by(ModelVersion.version))]
        base_active = not any(r["status"] == ModelStatus.ACTIVE.value for r in rows)
        base = {
            "version": BASE_VERSION, "name": self.base_name, "base_model": self.base_model,
            "status": ModelStatus.ACTIVE.value if base_active else ModelStatus.RETIRED.value,
            "path": None, "backend": self.base_backend, "progress": {}, "metrics": {}, "params": {}, "packaged": True,
        }
        return [base, *rows]


def _as_dict(row: ModelVersion) -> dict[str, Any]:
    def ts(v: Any) -> str | None:
        return v.isoformat() + "Z" if v is not None else None

    return {
        "version": row.version, "name": row.name, "base_model": row.base_model,
        "parent_version": row.parent_version, "status": row.status.value, "path": row.path,
        "backend": row.backend or "torch",
        "pairs_path": row.pairs_path,
        "params": row.params or {}, "progress": row.progress or {}, "metrics": row.metrics or {},
        "error": row.error, "train_seconds": row.train_seconds, "previous_version": row.previous_version,
        "created_at": ts(row.created_at), "activated_at": ts(row.activated_at), "retired_at": ts(row.retired_at),
    }


def build_registry(runtime) -> ModelRegistry:  # noqa: ANN001 - documind.runtime.Runtime
    st = runtime.settings
    return runtime.resource(
        "model-registry",
        lambda: ModelRegistry(runtime.sessions, st.embedding_model, st.effective_storage_dir, st.encoder_backend),
    )
