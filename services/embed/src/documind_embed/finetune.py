"""Fine-tuning the embedding model on (query, relevant passage) pairs, and judging a model
on held-out pairs. Pure functions of their inputs (no database, no broker): the training job
(``training.py``) and the benchmark both call them.

Loss: sentence-transformers' MultipleNegativesRankingLoss, the standard for pairs without
labelled negatives: every other passage of the batch is a negative, so a batch never holds
the same query or passage twice (it would be scored as a negative of itself). The loop is
hand-written on purpose: sentence-transformers' trainer needs the ``datasets`` package and
gives no per-step hook the job can write progress from without it."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from documind.pairs import BadPairs, Pair, parse_pairs  # noqa: F401 - re-exported

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[dict], None]


def split_pairs(pairs: Sequence[Pair], held_out: float, seed: int = 13) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out), split by query so a held-out query was never trained on."""
    queries = sorted({q for q, _ in pairs})
    random.Random(seed).shuffle(queries)
    n_held = max(1, round(len(queries) * held_out)) if held_out > 0 else 0
    held = set(queries[:n_held])
    train = [p for p in pairs if p[0] not in held]
    test = [p for p in pairs if p[0] in held]
    return train, test


def batches_without_duplicates(pairs: Sequence[Pair], batch_size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches in which no query and no passage appears twice (in-batch negatives
    must be real negatives). A pair that fits no open batch starts a new one."""
    order = list(pairs)
    rng.shuffle(order)
    batches: list[tuple[list[Pair], set[str]]] = []
    for q, p in order:
        for items, seen in batches:
            if len(items) < batch_size and q not in seen and p not in seen:
                items.append((q, p))
                seen.update((q, p))
                break
        else:
            batches.append(([(q, p)], {q, p}))
    # A batch of one has no negative: its loss is 0 and teaches nothing.
    return [items for items, _ in batches if len(items) > 1]


@dataclass
class TrainConfig:
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    max_seq_length: int = 256
    seed: int = 13
    max_steps: int | None = None  # tests: stop after this many steps


@dataclass
class TrainResult:
    steps: int
    seconds: float
    final_loss: float | None
    losses: list[float] = field(default_factory=list)


def train(
    model_dir: Path, pairs: Sequence[Pair], out_dir: Path, config: TrainConfig,
    progress: Progress | None = None, threads: int = 0,
) -> TrainResult:
    """Fine-tune the model in ``model_dir`` on ``pairs``; save it to ``out_dir``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = min(config.max_seq_length, model.max_seq_length)
    loss_fn = MultipleNegativesRankingLoss(model)
    plan = [batches_without_duplicates(pairs, config.batch_size, rng) for _ in range(config.epochs)]
    total = sum(len(b) for b in plan)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    if total == 0:
        raise BadPairs(f"{len(pairs)} training pairs make no batch of two distinct pairs")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(total * config.warmup_ratio), total)
    started = time.monotonic()
    losses: list[float] = []
    step = 0
    model.train()
    for epoch, epoch_batches in enumerate(plan, 1):
        for batch in epoch_batches:
            if step >= total:
                break
            features = [model.preprocess(inputs=[q for q, _ in batch]), model.preprocess(inputs=[p for _, p in batch])]
            loss = loss_fn(features, None)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            if progress is not None:
                progress({
                    "epoch": epoch, "epochs": config.epochs, "step": step, "total": total,
                    "loss": round(losses[-1], 5), "elapsed_s": round(time.monotonic() - started, 1),
                })
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return TrainResult(step, time.monotonic() - started, losses[-1] if losses else None, losses)


# ---- evaluation --------------------------------------------------------------------------
Encode = Callable[[list[str]], "np.ndarray"]  # normalized vectors, one row per text


def evaluate(encode: Encode, pairs: Iterable[Pair], k: int = 10) -> dict[str, float]:
    """Retrieval quality on held-out pairs: every distinct passage is the corpus, every
    distinct query asks, its own passages are the relevant ones (binary relevance).
    Returns nDCG@k (the decision metric) and MRR@k."""
    import numpy as np

    passages: dict[str, int] = {}
    relevant: dict[str, set[int]] = {}
    for q, p in pairs:
        pid = passages.setdefault(p, len(passages))
        relevant.setdefault(q, set()).add(pid)
    if not relevant:
        raise BadPairs("no held-out pairs to evaluate on")
    queries = list(relevant)
    qv = encode(queries)
    pv = encode(list(passages))
    scores = qv @ pv.T
    top = np.argsort(-scores, axis=1)[:, :k]
    ndcg = mrr = 0.0
    for i, q in enumerate(queries):
        rel = relevant[q]
        dcg = sum(1.0 / math.log2(rank + 2) for rank, pid in enumerate(top[i]) if int(pid) in rel)
        ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(rel), k)))
        ndcg += dcg / ideal
        first = next((rank for rank, pid in enumerate(top[i]) if int(pid) in rel), None)
        mrr += 1.0 / (first + 1) if first is not None else 0.0
    n = len(queries)
    return {f"ndcg@{k}": round(ndcg / n, 5), f"mrr@{k}": round(mrr / n, 5), "queries": n, "passages": len(passages)}


def is_better(candidate: dict[str, float], baseline: dict[str, float], metric: str = "ndcg@10",
              min_gain: float = 0.0) -> bool:
    """The candidate replaces the baseline only if strictly better by more than ``min_gain``."""
    return candidate[metric] > baseline[metric] + min_gain
