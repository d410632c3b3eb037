"""Item 4: the tensor learner's moments, time per 10⁶ samples and growth in N and d.

The moment pipeline of `hardnet.learners.tensor` (steps 0–2), jitted: first moments, `M2`
(O(N d²)), its top-m eigenvectors U, the projection `z = Uᵀx` (O(N d m)) and the projected
`T2, T3, T4` streamed in chunks (O(N m⁴), never a `d³` array). Growth exponents `b` of
`t ∝ N^b` (target: linear, b ≤ 1.2) and of `t ∝ d^b` at fixed N and m (target: no `d³` term,
b < 2.5; the O(N m⁴) part does not grow with d at all).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from perf_common import Row, best_time

from hardnet.learners._lib import hermite

CHUNK = 4096


def _pipeline(m: int):
    @jax.jit
    def moments(x, y):
        _, t1 = hermite.first_moments(x, y, CHUNK)
        m2 = hermite.m2(x, y - jnp.mean(y) - x @ t1, CHUNK)
        u = jnp.linalg.eigh(m2)[1][:, -m:]
        return hermite.projected_tensors(x @ u, y, CHUNK)

    return moments


def _time(num: int, d: int, m: int, repeats: int) -> float:
    x = jax.random.normal(jax.random.key(0), (num, d))
    y = jax.nn.relu(x[:, :m] @ jnp.ones(m) / math.sqrt(m))
    moments = _pipeline(m)
    return best_time(lambda: moments(x, y), repeats)


def _exponent(t: dict[int, float]) -> float:
    lo, hi = min(t), max(t)
    return math.log(t[hi] / t[lo]) / math.log(hi / lo)


def run(sizes: dict[str, Any]) -> list[Row]:
    m, d0, repeats = sizes["tensor_m"], sizes["tensor_d"], sizes["repeats"]
    t_n = {num: _time(num, d0, m, repeats) for num in sizes["tensor_ns"]}
    n0 = min(sizes["tensor_ns"])
    t_d = {d: (t_n[n0] if d == d0 else _time(n0, d, m, repeats)) for d in sizes["tensor_ds"]}
    big = max(t_n)
    per_million = t_n[big] * 1e6 / big
    b_n, b_d = _exponent(t_n), _exponent(t_d)
    return [
        Row(
            item="4 tensor moments",
            what=f"M2 + projected T2..T4, d={d0}, m={m}, per 10⁶ samples (from N={big})",
            ratio=None,
            target="",
            met=None,
            ours=per_million,
            unit="s / 10⁶ samples",
            note=f"{big / t_n[big]:.3g} samples/s",
        ),
        Row(
            item="4 tensor moments",
            what=f"growth in N: {' → '.join(str(n) for n in sorted(t_n))} at d={d0}",
            ratio=None,
            target="b <= 1.2 (linear)",
            met=bool(b_n <= 1.2),
            ours=b_n,
            unit="b in t ∝ N^b",
            note=" → ".join(f"{t_n[n]:.3g} s" for n in sorted(t_n)),
        ),
        Row(
            item="4 tensor moments",
            what=f"growth in d: {' → '.join(str(d) for d in sorted(t_d))} at N={n0}, m={m}",
            ratio=None,
            target="b < 2.5 (no d³)",
            met=bool(b_d < 2.5),
            ours=b_d,
            unit="b in t ∝ d^b",
            note=" → ".join(f"{t_d[d]:.3g} s" for d in sorted(t_d)),
        ),
    ]
