"""Dense linear algebra that never issues a batched LAPACK call on the CPU (docs/reliability.md).

Why. jaxlib 0.10.x splits the batch of a batched LAPACK custom call (`getrf`, `trsm`, `potrf`,
`syevd`, `geev`, `gesdd`, `geqrf`, ...) over XLA's CPU intra-op thread pool and blocks its pool
thread until the parts finish (`ParallelBatchMap` → `absl::BlockingCounter::Wait` in
`jaxlib/cpu/lapack_kernels.cc`). When the thunk executor runs as many such calls at once as the
pool has threads, every thread waits for parts that no thread is free to run: the program hangs
for good. `benchmarks/lapack_deadlock.py` reproduces it in one jitted call on 2 cores (eight
independent `vmap`-ed 64×64 solves of batch 16); `--xla_cpu_multi_thread_eigen=false` does not
prevent it. A call whose batch is 1 runs inline on its own thread (the kernel's
`chunk_size >= batch_count` branch), so it cannot wait on the pool.

What. Each function here is the `jax.numpy` / `jax.scipy` function of the same name, except that
under `jax.vmap` on the CPU it is mapped sequentially (`jax.custom_batching.sequential_vmap`, a
`lax.map` whose body sees one matrix), so every LAPACK call it lowers to has batch 1. Nested
`vmap`s nest the loops. On other platforms (`lax.platform_dependent`) the batched kernel is kept:
cuSOLVER's batched calls do not use the host pool. The cost on the CPU is the batch-level
parallelism of these calls (`benchmarks/lapack_deadlock.py` measures it).

Every learner and instance calls dense factorizations through this module;
`tests/test_linalg.py` checks that no program of the registry lowers a batched LAPACK call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from hardnet.core.base import Array


def _unbatched_on_cpu(fn: Callable[..., object]) -> Callable[..., object]:
    """`fn`, looped one matrix at a time when `vmap`-ed on the CPU, batched elsewhere."""
    sequential = jax.custom_batching.sequential_vmap(fn)

    @functools.wraps(fn)
    def wrapped(*args: Array) -> object:
        return jax.lax.platform_dependent(*args, cpu=sequential, default=fn)

    return wrapped


@_unbatched_on_cpu
def solve(a: Array, b: Array) -> Array:
    """`jnp.linalg.solve(a, b)`: `x` with `a x = b` (LU with partial pivoting, `getrf`)."""
    return jnp.linalg.solve(a, b)


@_unbatched_on_cpu
def eig(a: Array) -> tuple[Array, Array]:
    """`jnp.linalg.eig(a)`: complex eigenvalues and right eigenvectors (`geev`)."""
    return jnp.linalg.eig(a)


@_unbatched_on_cpu
def eigh(a: Array) -> tuple[Array, Array]:
    """`jnp.linalg.eigh(a)`: ascending eigenvalues and orthonormal eigenvectors (`syevd`)."""
    return jnp.linalg.eigh(a)


@_unbatched_on_cpu
def cholesky(a: Array) -> Array:
    """`jnp.linalg.cholesky(a)`: lower `L` with `a = L Lᵀ` (`potrf`)."""
    return jnp.linalg.cholesky(a)


@_unbatched_on_cpu
def singular_values(a: Array) -> Array:
    """`jnp.linalg.svd(a, compute_uv=False)`: singular values, descending (`gesdd`)."""
    return jnp.linalg.svd(a, compute_uv=False)


@_unbatched_on_cpu
def qr(a: Array) -> tuple[Array, Array]:
    """`jnp.linalg.qr(a)` (reduced): `a = q r` (`geqrf`, `orgqr`)."""
    return jnp.linalg.qr(a)


@_unbatched_on_cpu
def cho_solve_spd(a: Array, b: Array) -> Array:
    """`x` with `a x = b` for symmetric positive definite `a`: `cho_solve(cho_factor(a), b)`."""
    return jsl.cho_solve(jsl.cho_factor(a, lower=True), b)


@_unbatched_on_cpu
def solve_lower(low: Array, b: Array) -> Array:
    """`L⁻¹ b` for lower-triangular `L` (`trsm`)."""
    return jsl.solve_triangular(low, b, lower=True)


@_unbatched_on_cpu
def solve_lower_t(low: Array, b: Array) -> Array:
    """`L⁻ᵀ b` for lower-triangular `L` (`trsm`)."""
    return jsl.solve_triangular(low, b, trans="T", lower=True)
