"""Sample table: every registered family at small, CPU-friendly sizes.

For each configuration in CONFIGS, S seeds (`--seeds`) are initialized and sampled, N rows each
(`--num`, or the row's own `_num`), in one jitted, vmapped program, and one line is printed:

  family, config, x shape (S x N x d), the empirical informative fraction, the exact formula
  (`instance.informative_fraction`), its 99.9% Wilson interval and whether the formula lies
  inside, the label mean, the time of the first call (compile and run) and samples/s (a second,
  compiled call).

Exit status 1 if some formula lies outside its interval or a configuration is rejected.
A family that raises NotImplementedError is listed as "not implemented".

    python benchmarks/sample_table.py --seeds 4 --num 20000 --families prg_boolean
"""

from __future__ import annotations

import logging
import time
from typing import Any

import jax
import numpy as np
from absl import app, flags

from hardnet.analysis import stats
from hardnet.core import streaming
from hardnet.instances import families, make

NUM = "_num"  # per-configuration override of --num (not passed to make)

CONFIGS: dict[str, list[dict[str, Any]]] = {
    "prg_boolean": [
        {"n": 32, "predicate": "tsa"},
        {"n": 32, "predicate": "tsa", "null": True},
        {"n": 32, "predicate": "dictator", "k": 5},  # same k as tsa
    ],
    # k=5; the informative mass is ~0.6%: 25k rows per seed (1e5 in all at S=4) to see it.
    "prg_gauss3_dv21": [
        {"n": 64, "predicate": "tsa", NUM: 25_000},
        {"n": 64, "predicate": "tsa", "null": True, NUM: 25_000},
        {"n": 64, "predicate": "dictator", "k": 5, NUM: 25_000},
    ],
    "prg_gauss3_smoothed": [
        {"n": 128, "predicate": "xor_maj(5,7)", "tau": 1e-5},
        {"n": 128, "predicate": "xor_maj(5,7)", "tau": 1e-5, "null": True},
        {"n": 128, "predicate": "dictator", "k": 12, "tau": 1e-5},
    ],
    "prg_depth2_smoothed": [
        {"n": 128, "predicate": "xor_maj(5,7)"},
        {"n": 128, "predicate": "xor_maj(5,7)", "null": True},
        {"n": 128, "predicate": "dictator", "k": 12},
    ],
    "natural_depth2": [{"inputs": "gaussian"}, {"inputs": "clauses"}],
    "easy_depth2": [{"d": 16, "m": 8}],
}

CONFIDENCE = 0.999

_SEEDS = flags.DEFINE_integer("seeds", 4, "Seeds per configuration (S).", lower_bound=1)
_NUM = flags.DEFINE_integer("num", 20_000, "Rows per seed (N), unless overridden.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Base seed: keys = split(key(seed), S).", lower_bound=0)
_FAMILIES = flags.DEFINE_list("families", None, "Only these families (default: all).")

flags.register_validator(
    "families",
    lambda v: v is None or set(v) <= set(families()),
    "must be a comma-separated subset of " + ",".join(families()),
)

HEADER = (
    f"{'family':<20} {'config':<34} {'x shape':<16} {'inf emp':>9} {'formula':>9} "
    f"{'99.9% interval':>19} {'ok':>3} {'y mean':>7} {'1st call s':>10} {'samples/s':>10}"
)


def short(kwargs: dict[str, Any]) -> str:
    """`{"n": 32, "predicate": "tsa", "null": True} -> "n=32,tsa,null"`."""
    parts = []
    for key, value in kwargs.items():
        if key == "predicate":
            parts.append(str(value))
        elif value is True:
            parts.append(key)
        else:
            parts.append(f"{key}={value}")
    return ",".join(parts)


def row(family: str, kwargs: dict[str, Any], key: jax.Array) -> tuple[str, bool]:
    """One line of the table and whether it passed."""
    kwargs = dict(kwargs)
    num = kwargs.pop(NUM, _NUM.value)
    head = f"{family:<20} {short(kwargs):<34}"
    try:
        instance = make(family, **kwargs)
    except NotImplementedError:
        return f"{head} not implemented", True
    except (ValueError, TypeError) as error:
        return f"{head} rejected: {error}", False
    keys = jax.random.split(key, _SEEDS.value)
    start = time.perf_counter()
    jax.block_until_ready(streaming.sample_seeds(instance, keys, num))
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    _, x, y, meta = jax.block_until_ready(streaming.sample_seeds(instance, keys, num))
    rate = x.shape[0] * x.shape[1] / (time.perf_counter() - start)

    informative = np.asarray(meta["informative"])
    low, high = stats.wilson_interval(int(informative.sum()), informative.size, CONFIDENCE)
    formula = instance.informative_fraction
    ok = low - 1e-12 <= formula <= high + 1e-12
    shape = "x".join(map(str, x.shape))
    line = (
        f"{head} {shape:<16} {informative.mean():>9.5f} {formula:>9.5f} "
        f"[{low:.5f}, {high:.5f}] {'yes' if ok else 'NO':>3} {float(np.mean(y)):>7.4f} "
        f"{first_s:>10.2f} {rate:>10.3g}"
    )
    return line, ok


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)
    key = jax.random.key(_SEED.value)
    print(HEADER, flush=True)
    failures = 0
    for family in _FAMILIES.value or families():
        for kwargs in CONFIGS.get(family, [{}]):
            line, ok = row(family, kwargs, key)
            failures += not ok
            print(line, flush=True)
    if failures:
        print(f"{failures} configuration(s) failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    app.run(main)
