"""Item 1 of issue 5: planted (x, y) pairs per second for S seeds in one program.

Ours: `jax.jit(jax.vmap(inst.sample))` over S seeds, `num` rows each (x, y and meta). Peers:
`jax.random.normal(key, (S, num, d))` drawing the same-shaped x alone (target: ratio ≥ 0.5,
labelling costs less than drawing the input), and a straightforward NumPy teacher looping over
seeds (`perf_numpy_teachers`).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from perf_common import Row, best_time, check_ratio
from perf_numpy_teachers import f2_apply, f3_apply, sample_loop

import hardnet.instances as hi

CASES = (
    ("F3", "prg_gauss3_smoothed", {"n": 128, "k": 12, "predicate": "xor_maj(5,7)"}, f3_apply),
    ("F2", "prg_gauss3_dv21", {"n": 64, "k": 5, "predicate": "tsa"}, f2_apply),
)


def run(sizes: dict[str, Any]) -> list[Row]:
    """Rows of item 1 at `sizes["seeds"]` seeds × `sizes["rows"]` rows."""
    seeds, num, repeats = sizes["seeds"], sizes["rows"], sizes["repeats"]
    rows = []
    for label, family, kwargs, np_apply in CASES:
        inst = hi.make(family, **kwargs)
        d = inst.input_dim
        params = jax.jit(jax.vmap(inst.init))(jax.random.split(jax.random.key(0), seeds))
        keys = jax.random.split(jax.random.key(1), seeds)
        sample = jax.jit(jax.vmap(lambda p, k, inst=inst: inst.sample(p, k, num)))
        normal = jax.jit(lambda k, d=d: jax.random.normal(k, (seeds, num, d)))
        total = seeds * num
        t_ours = best_time(lambda: sample(params, keys), repeats)
        t_normal = best_time(lambda: normal(jax.random.key(2)), repeats)
        np_params = [jax.tree.map(lambda a, i=i: np.asarray(a[i]), params) for i in range(seeds)]
        np_rows = max(1, num // sizes["numpy_divisor"])
        t_numpy = best_time(lambda: sample_loop(np_apply, inst, np_params, np_rows), 1, 0)
        ours, base = total / t_ours, total / t_normal
        np_rate = seeds * np_rows / t_numpy
        what = f"{label} {family} " + ",".join(
            f"{k}={v}" for k, v in inst.config.items() if k in ("n", "k", "d", "tau")
        )
        what += f"; {seeds} seeds × {num} rows"
        ratio = ours / base
        rows.append(
            Row(
                item="1 sampling",
                what=what,
                ratio=ratio,
                target=">= 0.5",
                met=check_ratio(ratio, 0.5),
                ours=ours,
                unit="(x, y)/s",
                peer="jax.random.normal, x alone",
                peer_value=base,
                note=f"x is {d} floats/row; x alone = {d * base:.3g} normals/s",
            )
        )
        rows.append(
            Row(
                item="1 sampling",
                what=what,
                ratio=ours / np_rate,
                target="",
                met=None,
                ours=ours,
                unit="(x, y)/s",
                peer="NumPy teacher, loop over seeds",
                peer_value=np_rate,
                note=f"NumPy on {np_rows} rows/seed, float32",
            )
        )
    return rows
