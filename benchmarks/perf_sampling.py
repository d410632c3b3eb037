"""Item 1: planted (x, y) pairs per second for S seeds in one program, against the limit.

Ours: `jax.jit(jax.vmap(inst.sample))` over S seeds, `num` rows each (x, y and meta).

The limit is the work no sampler of the family can avoid, written as plain JAX kernels on the
same shapes (`limit_kernel`), timed in the same run:

- F3 `prg_gauss3_smoothed` (τ > 0): draw x ~ N(0, I_d); the dense noisy layer 1, `x @ W₁ᵀ`
  (4L × d: the noise τ·N(0, 1) fills every entry); the row's layer-2 unit noise (4L + 2 numbers,
  one unit per hyperedge, so drawn per row) and its dot with the layer-1 activations.
- F4 `prg_depth2_smoothed` (τ > 0): draw x = β + ω g (a Rademacher and a Gaussian vector); the
  row's noisy unit (d + 2 numbers per row) and its dot with x.
- The unit noise comes from the cheapest generator with the right distribution, the counter hash
  the samplers use (`smoothing.hashed_normal`), fed two random words per row; deriving those
  words from the row's hyperedge (k `fold_in`s) counts as the sampler's own work.
- F2 `prg_gauss3_dv21` (τ = 0, its default): draw x ~ N(0, I_d) and decode the one-hot code
  (k·n comparisons and k arg-maxes over n): the encoding is the unavoidable part of its teacher.

Target: ours / limit ≥ 0.7 for F3 and F4; F2 is reported against its limit without a target.
Two more peers per family, without targets: a bare `jax.random.normal` draw of x alone, and a
straightforward NumPy teacher looping over seeds (`perf_numpy_teachers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from perf_common import Row, best_time, check_ratio
from perf_numpy_teachers import f2_apply, f3_apply, sample_loop

import hardnet.instances as hi
from hardnet.instances import smoothing

HARD = {"n": 128, "k": 12, "predicate": "xor_maj(5,7)"}
CASES = (  # label, family, kwargs, NumPy teacher (None: none written), target
    ("F3", "prg_gauss3_smoothed", HARD, f3_apply, 0.7),
    ("F4", "prg_depth2_smoothed", HARD, None, 0.7),
    ("F2", "prg_gauss3_dv21", {"n": 64, "k": 5, "predicate": "tsa"}, f2_apply, None),
)


def limit_kernel(label: str, inst: Any, params: Any, seeds: int, num: int) -> Callable:
    """`key -> array`: the family's unavoidable work on `seeds × num` rows (module docstring)."""
    d, cfg = inst.input_dim, inst.config
    shape = (seeds, num)

    if label == "F3":
        w1 = params["w1_noise"]  # [S, 4L, d], dense
        units = w1.shape[1]

        def f3(key: Any) -> Any:
            kx, kn = jax.random.split(key)
            x = jax.random.normal(kx, (*shape, d))
            a = jax.nn.relu(jnp.einsum("snd,sud->snu", x, w1))
            words = jax.random.bits(kn, (*shape, 2), jnp.uint32)
            xi = smoothing.hashed_normal(words, units + 2)
            return jnp.sum(xi[..., :units] * a, axis=-1) + xi[..., units]

        return f3
    if label == "F4":
        omega = cfg["omega"]

        def f4(key: Any) -> Any:
            kb, kg, kn = jax.random.split(key, 3)
            x = jax.random.rademacher(kb, (*shape, d), jnp.float32)
            x = x + omega * jax.random.normal(kg, (*shape, d))
            words = jax.random.bits(kn, (*shape, 2), jnp.uint32)
            xi = smoothing.hashed_normal(words, d + 2)
            return jnp.sum(xi[..., :d] * x, axis=-1) + xi[..., d]

        return f4
    k, n = cfg["k"], cfg["n"]

    def f2(key: Any) -> Any:
        x = jax.random.normal(key, (*shape, d))
        bits = x[..., : k * n].reshape(*shape, k, n) >= 0
        return jnp.argmax(bits, axis=-1).astype(jnp.int32), x

    return f2


def _what(label: str, family: str, inst: Any, seeds: int, num: int) -> str:
    cfg = ",".join(f"{k}={v}" for k, v in inst.config.items() if k in ("n", "k", "d", "tau"))
    return f"{label} {family} {cfg}; {seeds} seeds × {num} rows"


def run(sizes: dict[str, Any]) -> list[Row]:
    """Rows of item 1 at `sizes["seeds"]` seeds × `sizes["rows"]` rows."""
    seeds, num, repeats = sizes["seeds"], sizes["rows"], sizes["repeats"]
    rows = []
    for label, family, kwargs, np_apply, target in CASES:
        inst = hi.make(family, **kwargs)
        d = inst.input_dim
        params = jax.jit(jax.vmap(inst.init))(jax.random.split(jax.random.key(0), seeds))
        keys = jax.random.split(jax.random.key(1), seeds)
        sample = jax.jit(jax.vmap(lambda p, k, inst=inst: inst.sample(p, k, num)))
        limit = jax.jit(limit_kernel(label, inst, params, seeds, num))
        normal = jax.jit(lambda k, d=d: jax.random.normal(k, (seeds, num, d)))
        total = seeds * num
        ours = total / best_time(lambda: sample(params, keys), repeats)
        lim = total / best_time(lambda: limit(jax.random.key(2)), repeats)
        bare = total / best_time(lambda: normal(jax.random.key(3)), repeats)
        what = _what(label, family, inst, seeds, num)
        common = dict(item="1 sampling", what=what, ours=ours, unit="(x, y)/s")
        rows.append(
            Row(
                **common,
                ratio=ours / lim,
                target="" if target is None else f">= {target}",
                met=check_ratio(ours / lim, target),
                peer="limit: unavoidable work, plain JAX",
                peer_value=lim,
                note=f"x is {d} floats/row; see perf_sampling.py for the limit's kernels",
            )
        )
        rows.append(
            Row(
                **common,
                ratio=ours / bare,
                target="",
                met=None,
                peer="jax.random.normal, x alone",
                peer_value=bare,
                note=f"{d * bare:.3g} normals/s",
            )
        )
        if np_apply is not None:
            np_params = [
                jax.tree.map(lambda a, i=i: np.asarray(a[i]), params) for i in range(seeds)
            ]
            np_rows = max(1, num // sizes["numpy_divisor"])
            t_numpy = best_time(lambda: sample_loop(np_apply, inst, np_params, np_rows), 1, 0)
            np_rate = seeds * np_rows / t_numpy
            rows.append(
                Row(
                    **common,
                    ratio=ours / np_rate,
                    target="",
                    met=None,
                    peer="NumPy teacher, loop over seeds",
                    peer_value=np_rate,
                    note=f"NumPy on {np_rows} rows/seed, float32",
                )
            )
    return rows
