"""The streamed runner: flat memory in the budget, and the cost of drawing data in the program.

    python benchmarks/streamed.py               # both measurements (about 4 minutes on 2 cores)
    python benchmarks/streamed.py --only=rss    # or --only=throughput

rss: the peak resident size (VmHWM) of one streamed `sgd` cell (default hyperparameters: depth 2,
width 256, Adam, batch 256, online) on F3 `prg_gauss3_smoothed` n=128 `xor_maj(5,7)`, 2 instance
× 2 learner seeds, at 4·10⁵ and 4·10⁶ samples, each in its own process (`runner.run_cell`, the
code path of `hardnet-bench`). Flat memory means the ratio is about 1.

throughput: samples/s of online training with in-program sampling (`fit_online` reading the
instance's stream, what the runner does) against the training step alone on batches generated
beforehand (the same `fit_online` reading slices of arrays already in memory), for F6 (d=16,
m=8) and F3 n=128 `xor_maj(5,7)`; 4 seeds vmapped, compilation apart, median of 3 runs. Target
(issue tracker): ratio ≥ 0.7.

The 1-minute load is printed at the start and end: a figure from a loaded machine is void.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
from absl import app, flags

_ONLY = flags.DEFINE_enum("only", None, ["rss", "throughput"], "run one measurement")

F3 = dict(family="prg_gauss3_smoothed", fixed=dict(n=128, predicate="xor_maj(5,7)"))
F6 = dict(family="easy_depth2", fixed=dict(d=16, m=8))

_CELL = """
import json, sys, time
from hardnet.run import grid, runner
(cell,) = grid.expand(json.loads(sys.argv[1]))
start = time.perf_counter()
rows = runner.run_cell(cell)
seconds = time.perf_counter() - start
status = open("/proc/self/status").read().splitlines()
hwm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))
print(json.dumps({"rss": hwm, "seconds": seconds, "failed": sum(r["failed"] for r in rows)}))
"""


def measure_rss() -> list[dict]:
    out = []
    for budget in (400_000, 4_000_000):
        config = {
            "instances": {"f3": F3},
            "learners": {"sgd": {}},
            "budgets": [budget],
            "test_size": 2048,
            "instance_seeds": 2,
            "learner_seeds": 2,
        }
        done = subprocess.run(
            [sys.executable, "-c", _CELL, json.dumps(config)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        got = json.loads(done.stdout.strip().splitlines()[-1])
        out.append({"budget": budget, **got})
        print(
            f"rss: sgd online F3 n=128 xor_maj(5,7), budget {budget:>9,}: peak RSS "
            f"{got['rss'] / 2**20:7.0f} MiB, {got['seconds']:6.1f} s", flush=True
        )  # fmt: skip
    print(f"rss: ratio 4e6 / 4e5 = {out[1]['rss'] / out[0]['rss']:.3f}", flush=True)
    return out


def measure_throughput(block: dict, seeds: int = 4, budget: int = 2**17) -> dict:
    from hardnet import instances, learners

    inst = instances.make(block["family"], **block["fixed"])
    learner = learners.make("sgd", log_every=10**9)
    keys = jax.random.split(jax.random.key(0), seeds)
    params = jax.vmap(inst.init)(keys)
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
        jax.block_until_ready(compiled(*args))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times.append(time.perf_counter() - t0)
        return seeds * budget / statistics.median(times)

    learner_keys = jax.random.split(jax.random.key(2), seeds)
    a = rate(in_program, params, data_keys, learner_keys)
    b = rate(pregenerated, x_all, y_all, learner_keys)
    name = f"{block['family']} {block['fixed']}"
    print(
        f"throughput: {name}: in-program sampling {a:.3g} samples/s, pre-generated {b:.3g} "
        f"samples/s, ratio {a / b:.2f}", flush=True
    )  # fmt: skip
    return {"instance": name, "in_program": a, "pregenerated": b, "ratio": a / b}


def main(argv: list[str]) -> None:
    del argv
    print(f"load at start: {os.getloadavg()[0]:.2f} (1 min), cores: {os.cpu_count()}", flush=True)
    if _ONLY.value in (None, "rss"):
        measure_rss()
    if _ONLY.value in (None, "throughput"):
        for block in (F6, F3):
            measure_throughput(block)
    print(f"load at end: {os.getloadavg()[0]:.2f} (1 min)", flush=True)


if __name__ == "__main__":
    jnp.zeros(())  # initialize the backend before timing anything
    app.run(main)
