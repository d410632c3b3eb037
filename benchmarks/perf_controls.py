"""Item 5 of issue 5: the structure-aware controls, brute force and GF(2) elimination.

- brute force: `hardnet.learners.brute_force` on F1 (`prg_boolean`, tsa) at n = 20, i.e. all
  2^20 seeds scored on 256 samples (one jitted `lax.scan` over seed chunks); reported as
  seed·row checks per second. No peer: the issue sets no target.
- GF(2): `hardnet.learners.gf2` on F1 tsa at n = 64 (2080 unknowns: 64 seed bits and 2016
  products) from `gf2_rows` samples: system build, bit-packed Gauss–Jordan on the device and the
  seed read-out. Peer: the `galois` library's `GF(2)` `row_reduce` of the same augmented system
  (rows = equations, columns = the same monomials), built in NumPy outside the timing. Both
  ranks are reported and must agree.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import numpy as np
from perf_common import Row, best_time

import hardnet.instances as hi
import hardnet.learners as hl
from hardnet.core.base import Public


def _f1(n: int, num: int):
    inst = hi.make("prg_boolean", n=n, predicate="tsa")
    params = inst.init(jax.random.key(0))
    x, y, meta = jax.jit(inst.sample, static_argnums=2)(params, jax.random.key(1), num)
    return inst, params, x, y, meta


def _galois_system(meta: dict, y: np.ndarray, n: int) -> np.ndarray:
    """Augmented GF(2) system of tsa `w1 ⊕ w2 ⊕ w3 ⊕ w4 w5 = y`: unknowns s_i, then s_a s_b."""
    edges = np.asarray(meta["hyperedge"])
    pair_index = {}
    for a in range(n):
        for b in range(a + 1, n):
            pair_index[(a, b)] = n + len(pair_index)
    mat = np.zeros((len(edges), n + len(pair_index) + 1), np.uint8)
    for r, e in enumerate(edges):
        for i in e[:3]:
            mat[r, i] ^= 1
        mat[r, pair_index[tuple(sorted((int(e[3]), int(e[4]))))]] ^= 1
        mat[r, -1] = int(y[r] > 0.5)
    return mat


def run(sizes: dict[str, Any]) -> list[Row]:
    rows = []
    n_bf, num_bf = sizes["brute_n"], sizes["brute_rows"]
    inst, params, x, y, _ = _f1(n_bf, num_bf)
    learner = hl.make("brute_force", public=Public.of(inst), max_n=max(24, n_bf))
    fit = jax.jit(lambda x, y: learner.fit(jax.random.key(0), x, y).state["seed"])
    t = best_time(lambda: fit(x, y), sizes["repeats"])
    found = bool(np.array_equal(np.asarray(fit(x, y)), np.asarray(params["seed"])))
    rows.append(
        Row(
            item="5 brute force",
            what=f"2^{n_bf} seeds × {num_bf} samples, F1 tsa",
            ratio=None,
            target="",
            met=None,
            ours=t,
            unit="s",
            note=f"{2**n_bf * num_bf / t:.3g} seed·rows/s; seed recovered: {found}",
        )
    )

    n_g, num_g = sizes["gf2_n"], sizes["gf2_rows"]
    inst, params, x, y, meta = _f1(n_g, num_g)
    learner = hl.make("gf2", public=Public.of(inst))
    fit = jax.jit(lambda x, y: learner.fit(jax.random.key(0), x, y).info["rank"])
    t_ours = best_time(lambda: fit(x, y), sizes["repeats"])
    rank = int(fit(x, y))
    peer, note = None, f"rank {rank}; galois not installed"
    try:
        import galois

        gf = galois.GF(2)
        system = gf(_galois_system(meta, np.asarray(y), n_g))
        system.row_reduce()  # numba compilation, untimed
        start = time.perf_counter()
        reduced = system.row_reduce()
        peer = time.perf_counter() - start
        rank_g = int(np.count_nonzero(np.any(np.asarray(reduced)[:, :-1] != 0, axis=1)))
        note = f"rank ours {rank}, galois {rank_g} ({system.shape[0]}×{system.shape[1]} system)"
    except ImportError:
        pass
    rows.append(
        Row(
            item="5 gf2",
            what=f"GF(2) elimination, F1 tsa n={n_g}, {num_g} equations",
            ratio=None if peer is None else peer / t_ours,
            target="",
            met=None,
            ours=t_ours,
            unit="s",
            peer="galois GF(2) row_reduce",
            peer_value=peer,
            note=note,
        )
    )
    return rows
