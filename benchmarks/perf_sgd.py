"""Item 2 of issue 5: an ensemble of MLPs trained in one vmapped program against PyTorch.

Ours: the `sgd` learner (`hardnet.learners.sgd`, MLP d-512-512-1, Adam 1e-3, square loss,
batch 1024) `jax.vmap`-ed over 16 seeds, `steps` optimizer steps each, one jitted `lax.scan`.
The training set is exactly one batch (1024 rows per seed), so every step sees the same batch
in both frameworks. Peer: PyTorch (CPU build, `torch.set_num_threads(os.cpu_count())`, the
same thread count as XLA) training the same 16 architectures one after another on the same
batches. Throughput: samples/s = seeds × steps × batch / wall time. Target: ≥ 1.5×.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from perf_common import Row, best_time, check_ratio

import hardnet.learners as hl

WIDTH, BATCH, LR = 512, 1024, 1e-3


def torch_rate(x: np.ndarray, y: np.ndarray, steps: int, repeats: int) -> float | None:
    """Samples/s of PyTorch training `len(x)` models one after another (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    seeds, batch, d = x.shape
    xs, ys = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))

    def train() -> None:
        for s in range(seeds):
            torch.manual_seed(s)
            model = torch.nn.Sequential(
                torch.nn.Linear(d, WIDTH),
                torch.nn.ReLU(),
                torch.nn.Linear(WIDTH, WIDTH),
                torch.nn.ReLU(),
                torch.nn.Linear(WIDTH, 1),
            )
            opt = torch.optim.Adam(model.parameters(), lr=LR)
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                loss = torch.mean((model(xs[s]).squeeze(-1) - ys[s]) ** 2)
                loss.backward()
                opt.step()

    seconds = best_time(train, repeats, warmup=1)
    return seeds * steps * batch / seconds


def run(sizes: dict[str, Any]) -> list[Row]:
    seeds, steps, d = sizes["sgd_seeds"], sizes["sgd_steps"], sizes["sgd_dim"]
    batch = sizes.get("sgd_batch", BATCH)
    learner = hl.make(
        "sgd", depth=2, width=WIDTH, optimizer="adam", learning_rate=LR, batch_size=batch,
        steps=steps, log_every=steps, eval_size=batch,
    )  # fmt: skip
    x = jax.random.normal(jax.random.key(0), (seeds, batch, d))
    y = jax.numpy.tanh(x[..., 0] * x[..., 1])
    keys = jax.random.split(jax.random.key(1), seeds)
    fit = jax.jit(jax.vmap(lambda k, x, y: learner.fit(k, x, y).state))
    ours = seeds * steps * batch / best_time(lambda: fit(keys, x, y), sizes["repeats"])
    peer = torch_rate(np.asarray(x), np.asarray(y), steps, sizes["repeats"])
    ratio = None if peer is None else ours / peer
    return [
        Row(
            item="2 sgd ensemble",
            what=f"{seeds} seeds of MLP {d}-{WIDTH}-{WIDTH}-1, Adam, batch {batch}, {steps} steps",
            ratio=ratio,
            target=">= 1.5",
            met=check_ratio(ratio, 1.5),
            ours=ours,
            unit="samples/s",
            peer="PyTorch CPU, models one after another",
            peer_value=peer,
            note=f"{os.cpu_count()} threads each" + ("" if peer else "; torch not installed"),
        )
    ]
