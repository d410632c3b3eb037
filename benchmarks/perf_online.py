"""Item 7: online training with the data drawn inside the program, against the step alone.

Ours: samples/s of the `sgd` learner's `fit_online` (default hyperparameters: depth 2, width
256, Adam, batch 256) reading the instance's stream, `inst.sample` inside the jitted program,
as the runner trains. Peer: the same `fit_online` reading slices of batches generated
beforehand and held in memory, i.e. the training step alone. Both `jax.vmap`-ed over `seeds`
seeds, compilation apart (ahead-of-time `lower().compile()`), median of `repeats` calls, on F6
`easy_depth2` (d=16, m=8) and F3 `prg_gauss3_smoothed` n=128 `xor_maj(5,7)`. Target: ratio ≥ 0.7
(drawing the data costs at most 30% of training).
"""

from __future__ import annotations

import statistics
from typing import Any

import jax
from perf_common import Row, call_times, check_ratio

BLOCKS = (
    ("F6", dict(family="easy_depth2", fixed=dict(d=16, m=8))),
    ("F3", dict(family="prg_gauss3_smoothed", fixed=dict(n=128, predicate="xor_maj(5,7)"))),
)


def throughput(block: dict, seeds: int, budget: int, repeats: int = 3) -> tuple[float, float]:
    """(in-program samples/s, pre-generated samples/s) of online sgd on `block`'s instance."""
    from hardnet import instances, learners

    inst = instances.make(block["family"], **block["fixed"])
    learner = learners.make("sgd", log_every=10**9)
    params = jax.vmap(inst.init)(jax.random.split(jax.random.key(0), seeds))
    data_keys = jax.random.split(jax.random.key(1), seeds)

    def in_program(p, k_data, key):
        source = lambda start, num: inst.sample(p, k_data, num, start)[:2]
        return learner.fit_online(key, source, budget).state

    x_all, y_all, _ = jax.vmap(lambda p, k: inst.sample(p, k, budget))(params, data_keys)

    def pregenerated(x, y, key):
        def source(start, num):
            return (
                jax.lax.dynamic_slice_in_dim(x, start, num),
                jax.lax.dynamic_slice_in_dim(y, start, num),
            )

        return learner.fit_online(key, source, budget).state

    def rate(fn, *args) -> float:
        compiled = jax.jit(jax.vmap(fn)).lower(*args).compile()
        return seeds * budget / statistics.median(call_times(lambda: compiled(*args), repeats))

    learner_keys = jax.random.split(jax.random.key(2), seeds)
    return rate(in_program, params, data_keys, learner_keys), rate(
        pregenerated, x_all, y_all, learner_keys
    )


def run(sizes: dict[str, Any]) -> list[Row]:
    seeds, budget = sizes["online_seeds"], sizes["online_budget"]
    rows = []
    for label, block in BLOCKS:
        ours, peer = throughput(block, seeds, budget, max(3, sizes["repeats"]))
        fixed = ",".join(f"{k}={v}" for k, v in block["fixed"].items())
        rows.append(
            Row(
                item="7 online training",
                what=f"{label} {block['family']} {fixed}; sgd online, {seeds} seeds × {budget}",
                ratio=ours / peer,
                target=">= 0.7",
                met=check_ratio(ours / peer, 0.7),
                ours=ours,
                unit="samples/s",
                peer="the same training on pre-generated batches",
                peer_value=peer,
                note="in-program sampling over the training step alone",
            )
        )
    return rows
