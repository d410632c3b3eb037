"""Stress reproducer of the batched-LAPACK deadlock, and the cost of avoiding it.

    python benchmarks/lapack_deadlock.py --impl=jnp      # jaxlib 0.10.x, 2+ cores: hangs
    python benchmarks/lapack_deadlock.py --impl=hardnet  # hardnet.core.linalg: finishes
    python benchmarks/lapack_deadlock.py --cost          # time both on a size that never hangs

One jitted program holds `--calls` independent `vmap`-ed factorizations (`--op`) of a batch of
`--batch` random `--size`² matrices, and is run `--repeats` times. With `--impl=jnp` each call is
one batched LAPACK custom call, which jaxlib 0.10.x splits over the XLA CPU intra-op pool while
its own pool thread waits (`hardnet/core/linalg.py` explains the mechanism); with two or more such
calls in flight on a 2-thread pool, every thread waits and the process hangs (measured: 6 runs
of 6 with `--op=solve` on 2 cores, jax 0.10.2). With `--impl=hardnet` each LAPACK call has batch
1 and runs inline. The script prints `ok` and exits 0 when every repeat finished; run it under
`timeout` (tests/test_linalg.py does) to turn a hang into a verdict.

`--cost` times the tensor-sized problem the learners meet (many small matrices) where the
batched call stays below jaxlib's parallel threshold or runs alone, jnp against hardnet.core.linalg,
median of `--repeats` steady-state calls.
"""

from __future__ import annotations

import os
import statistics
import time

import jax
import jax.numpy as jnp
from absl import app, flags

from hardnet.core import linalg

_IMPL = flags.DEFINE_enum("impl", "hardnet", ["jnp", "hardnet"], "which linear algebra")
_OP = flags.DEFINE_enum("op", "solve", ["solve", "cholesky", "eigh", "eig"], "factorization")
_CALLS = flags.DEFINE_integer("calls", 8, "independent vmapped calls in the program", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch", 16, "matrices per call", lower_bound=1)
_SIZE = flags.DEFINE_integer("size", 64, "matrix order", lower_bound=1)
_REPEATS = flags.DEFINE_integer("repeats", 50, "program executions", lower_bound=1)
_COST = flags.DEFINE_bool("cost", False, "time jnp vs hardnet.core.linalg instead of stressing")

OPS = {
    "jnp": {
        "solve": lambda a, b: jnp.linalg.solve(a, b),
        "cholesky": lambda a, b: jnp.linalg.cholesky(a @ a.T) @ b,
        "eigh": lambda a, b: jnp.linalg.eigh(a @ a.T)[0] * b,
        "eig": lambda a, b: jnp.real(jnp.linalg.eig(a)[0]) * b,
    },
    "hardnet": {
        "solve": lambda a, b: linalg.solve(a, b),
        "cholesky": lambda a, b: linalg.cholesky(a @ a.T) @ b,
        "eigh": lambda a, b: linalg.eigh(a @ a.T)[0] * b,
        "eig": lambda a, b: jnp.real(linalg.eig(a)[0]) * b,
    },
}


def program(impl: str, op: str, calls: int, batch: int, size: int):
    """`key -> scalar`: `calls` independent vmapped `op`s on well-conditioned random matrices."""
    one = OPS[impl][op]

    def run(key):
        total = jnp.zeros(())
        for c in range(calls):
            ka, kb = jax.random.split(jax.random.fold_in(key, c))
            a = jax.random.normal(ka, (batch, size, size)) / size**0.5 + jnp.eye(size)
            b = jax.random.normal(kb, (batch, size))
            total = total + jnp.sum(jax.vmap(one)(a, b))
        return total

    return jax.jit(run)


def _median_s(fn, repeats: int) -> float:
    fn(jax.random.key(0)).block_until_ready()  # compile
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        fn(jax.random.key(r)).block_until_ready()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str]) -> None:
    del argv
    if _COST.value:  # one call at a time: the batched call cannot deadlock alone
        print(f"load: {os.getloadavg()[0]:.2f} (1 min), cores: {os.cpu_count()}")
        for op in ("solve", "eigh", "eig", "cholesky"):
            t = {
                impl: _median_s(program(impl, op, 1, _BATCH.value, _SIZE.value), _REPEATS.value)
                for impl in ("jnp", "hardnet")
            }
            print(
                f"{op:9s} batch {_BATCH.value} of {_SIZE.value}²: jnp {t['jnp'] * 1e3:8.2f} ms, "
                f"hardnet.core.linalg {t['hardnet'] * 1e3:8.2f} ms, "
                f"ratio {t['hardnet'] / t['jnp']:.2f}"
            )
        return
    fn = program(_IMPL.value, _OP.value, _CALLS.value, _BATCH.value, _SIZE.value)
    for r in range(_REPEATS.value):
        fn(jax.random.key(r)).block_until_ready()
    print("ok", flush=True)


if __name__ == "__main__":
    app.run(main)
