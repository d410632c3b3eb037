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
(as perf.py item 7): ratio ≥ 0.7.

The 1-minute load is printed at the start and end: a figure from a loaded machine is void.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parent))

import perf_online

_ONLY = flags.DEFINE_enum("only", None, ["rss", "throughput"], "run one measurement")

F6, F3 = (block for _, block in perf_online.BLOCKS)

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
    """`perf_online.throughput` on `block`, printed."""
    a, b = perf_online.throughput(block, seeds, budget)
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
