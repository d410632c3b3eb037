"""Fingerprints of a suite's instances: what pins the generators (docs/suites.md, Fingerprints).

The fingerprint of (setup, role, instance seed) is a SHA-256 over what is bit-exact by
construction, the same on every processor and for any chunk size:

    the family and its validated config (canonical JSON),
    the key data of the instance seed's keys (init, train, test, validation, calibration),
    every integer or boolean leaf of the planted params (PRG seed bits, hyperedge tables, ...),
    every integer or boolean meta entry of the first `ROWS` training and test rows (hyperedges,
    informative flags, clause variables, ...), and on PRG families their clean and planted bits.

Floats are never hashed: one ulp between two processors lands on a quantization edge somewhere
among thousands of values. Instead `floats` keeps a few of them (the first training and test
rows' x and y, the first values of each float param leaf), compared to the stored ones within
`RTOL`/`ATOL` by `compare`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from hardnet import learners, suites
from hardnet.core import textio
from hardnet.core.textio import canonical
from hardnet.run import grid
from hardnet.run.grid import Cell
from hardnet.run.runner import keys_for

ROWS = 64  # training and test rows whose discrete meta is hashed
FLOATS = 8  # values kept per float array
RTOL, ATOL = 1e-4, 1e-5
BITS = ("clean_label", "planted_bit")  # PRG meta: bits stored as float32


def _leaves(tree: Any, prefix: str, kinds: str) -> Iterator[tuple[str, np.ndarray]]:
    """(path, array) of every leaf whose dtype kind is in `kinds` ("biu": integer or boolean,
    "f": float), in a fixed order."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        a = np.asarray(leaf)
        if a.dtype.kind in kinds:
            yield prefix + jax.tree_util.keystr(path), a


def fingerprints(cell: Cell, seed_base: int, instance_seeds: Sequence[int]) -> list[dict[str, Any]]:
    """`{"sha256": hex digest, "floats": {name: [values]}}` per instance seed of `cell`'s
    instance (only its family and instance config matter), drawn as the runner draws it: one
    program over the seeds."""
    return _fingerprints(cell.make_instance(), seed_base, instance_seeds)


def _fingerprints(inst: Any, seed_base: int, instance_seeds: Sequence[int]) -> list[dict[str, Any]]:
    keys = [keys_for(seed_base, i) for i in instance_seeds]
    stacked = {name: jax.numpy.stack([k[name] for k in keys]) for name in keys[0]}

    def draw(k_init, k_train, k_test):
        params = inst.init(k_init)
        return params, inst.sample(params, k_train, ROWS), inst.sample(params, k_test, ROWS)

    drawn = jax.jit(jax.vmap(draw))(stacked["init"], stacked["train"], stacked["test"])
    drawn = jax.tree.map(np.asarray, drawn)
    return [
        _digest(inst, keys[a], jax.tree.map(lambda t, a=a: t[a], drawn))
        for a in range(len(instance_seeds))
    ]


def _digest(inst: Any, keys: Mapping[str, Any], drawn: Any) -> dict[str, Any]:
    params, *samples = drawn
    h = hashlib.sha256(canonical([inst.family, dict(inst.config)]).encode())
    for name in sorted(keys):
        h.update(name.encode() + np.asarray(jax.random.key_data(keys[name])).tobytes())
    exact = list(_leaves(params, "params", "biu"))
    floats = {name: a.ravel()[:FLOATS] for name, a in _leaves(params, "params", "f")}
    prg = inst.encoding is not None
    for name, (x, y, meta) in zip(("train", "test"), samples, strict=True):
        exact += _leaves(meta, f"{name}.meta", "biu")
        if prg:
            exact += [(f"{name}.{b}", np.asarray(meta[b]).astype(np.int8)) for b in BITS]
        floats[f"{name}.x"] = np.asarray(x)[:2].ravel()[: 2 * FLOATS]
        floats[f"{name}.y"] = np.asarray(y).ravel()[:FLOATS]
    for name, a in exact:
        h.update(name.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return {
        "sha256": h.hexdigest(),
        "floats": {k: [float(v) for v in a] for k, a in sorted(floats.items())},
    }


def compare(stored: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between a stored fingerprint and a recomputed one (empty: they agree)."""
    problems = []
    if stored["sha256"] != now["sha256"]:
        problems.append(f"sha256 {now['sha256'][:12]} != stored {stored['sha256'][:12]}")
    for name in sorted(set(stored["floats"]) | set(now["floats"])):
        a, b = stored["floats"].get(name), now["floats"].get(name)
        if a is None or b is None or len(a) != len(b):
            problems.append(f"{name}: present or shaped differently")
        elif not np.allclose(b, a, rtol=RTOL, atol=ATOL):
            worst = float(np.max(np.abs(np.subtract(b, a))))
            problems.append(f"{name}: differs by up to {worst:.3g} (rtol {RTOL}, atol {ATOL})")
    return problems


def role_cells(suite: suites.Suite) -> dict[tuple[str, str], Cell]:
    """One cell per (setup, role) of `suite` (its instance is what a fingerprint reads)."""
    tier = next(iter(suite.tiers.values()))
    every = dataclasses.replace(tier, budgets={name: (1000,) for name in suite.setups})
    plan = grid.plan(suites.config(suite, every, {learners.BASELINE: {}}))
    return {(c.block, c.variant): c for c in plan.cells}


def suite_fingerprints(
    suite: suites.Suite, instance_seeds: Sequence[int] | None = None
) -> dict[str, dict[str, Any]]:
    """`{"<setup>/<role>/<instance seed>": fingerprint}` over every tier's instance seeds
    (heldout's are drawn at scoring time: not fingerprinted) at the suite's seed."""
    if instance_seeds is None:
        tiers = [t for t in suite.tiers.values() if not t.heldout]
        instance_seeds = sorted({i for t in tiers for i in t.instance_seeds})
    out = {}
    for (setup, role), cell in sorted(role_cells(suite).items()):
        drawn = fingerprints(cell, suite.seed, instance_seeds)
        for i, fp in zip(instance_seeds, drawn, strict=True):
            out[f"{setup}/{role}/{i}"] = fp
    return out


def verify_suite(suite: suites.Suite) -> list[str]:
    """Every stored fingerprint recomputed; the differences, one line each."""
    path = suite.path("fingerprints")
    if not path.exists():
        return [f"{path.name}: no fingerprints stored (hardnet-suite freeze)"]
    stored = json.loads(path.read_text())["fingerprints"]
    seeds = sorted({int(k.rsplit("/", 1)[1]) for k in stored})
    now = suite_fingerprints(suite, seeds)
    problems = [f"{k}: not stored" for k in sorted(set(now) - set(stored))]
    problems += [f"{k}: stored, no longer in the suite" for k in sorted(set(stored) - set(now))]
    for key in sorted(set(now) & set(stored)):
        problems += [f"{key}: {p}" for p in compare(stored[key], now[key])]
    return problems


def freeze_suite(suite: suites.Suite) -> str:
    """Write the suite's fingerprints file (refused on a released suite that has one)."""
    path = suite.path("fingerprints")
    if suite.released and path.exists():
        raise ValueError(
            f"--suite={suite.name} is released and has fingerprints: a generator change that "
            "alters them needs a new suite version (copy the suite file under a new name)"
        )
    data = {"suite": suite.name, "version": suite.version,
            "fingerprints": suite_fingerprints(suite)}  # fmt: skip
    textio.atomic_write_text(str(path), json.dumps(data, indent=1, sort_keys=True) + "\n")
    return f"{len(data['fingerprints'])} fingerprints written to {path}"
