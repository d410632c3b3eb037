"""The contracts of hardnet, stated first (cf. algoperf/spec.py, neural_testbed/base.py).

A *planted instance* is a family at fixed hyperparameters: three pure functions

    init(key) -> params                                  # draw the planted network (seed s, noise)
    sample(params, key, num, start=0) -> (x, y, meta)    # rows start..start+num of a data stream
    apply(params, x) -> y                                # the teacher on arbitrary inputs

that `jax.jit` and `jax.vmap` over keys, so that S seeds of one instance are one compiled program.
Row r of a stream is drawn from `fold_in(key, r)` alone, so sampling in chunks equals sampling
at once and a stream can be resumed at any row.

`meta` is never shown to a learner. It holds at least `informative` (bool per row); PRG families
add `hyperedge` (the decoded tuple S*), `hyperedge_hash` (uint32[2] per row, seed-free),
`clean_label` (`P(s_S*)`) and `planted_bit` (the bit the teacher writes on clean inputs:
`P(s_S*)`, or the random bit `r(S*)` for the null).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax
import jax.numpy as jnp

Array = jax.Array
Params = Any  # a pytree of arrays
Meta = dict[str, Array]


class InitFn(Protocol):
    def __call__(self, key: Array) -> Params: ...


class SampleFn(Protocol):
    def __call__(
        self, params: Params, key: Array, num: int, start: int | Array = 0
    ) -> tuple[Array, Array, Meta]: ...


class ApplyFn(Protocol):
    def __call__(self, params: Params, x: Array) -> Array: ...


class DecodeFn(Protocol):
    """Public decoder of a PRG encoding: `x -> (hyperedge int32[num, k], valid bool[num])`."""

    def __call__(self, x: Array) -> tuple[Array, Array]: ...


@dataclasses.dataclass(frozen=True)
class Instance:
    """A planted family at fixed, validated hyperparameters.

    Attributes:
      family: registry id of the family, e.g. "prg_gauss3_smoothed".
      config: the validated keyword arguments (JSON-serializable), defaults filled in.
      input_dim: dimension of x.
      init, sample, apply: the pure functions of the module docstring.
      informative_fraction: the exact probability that a sampled row is informative.
      describe: `params -> dict of scalars` documenting the draw (e.g. sigma_min of a layer).
      encoding: name of the public encoding for structure-aware controls, or None.
      decode: the public decoder of that encoding, or None.
      predicate: the PRG predicate (`hardnet.prg.Predicate`), or None.
      n: seed length of PRG families, or None.
      notes: flags that results must carry, e.g. ("unsafe tau",) or ("empirically smoothed",).
      materialized: for lazily evaluated families, a float64 NumPy reference evaluator for tiny
        sizes: `(params, x) -> (y, pre)` with every hidden unit's pre-activation `pre[num, units]`.
    """

    family: str
    config: Mapping[str, Any]
    input_dim: int
    init: InitFn
    sample: SampleFn
    apply: ApplyFn
    informative_fraction: float
    describe: Callable[[Params], dict[str, Array]] = lambda params: {}
    encoding: str | None = None
    decode: DecodeFn | None = None
    predicate: Any = None
    n: int | None = None
    notes: tuple[str, ...] = ()
    materialized: Callable[[Params, Array], tuple[Any, Any]] | None = None

    @property
    def id(self) -> str:
        """A readable, unique id: `family/key=value,...` over the sorted config."""
        body = ",".join(f"{k}={v}" for k, v in sorted(self.config.items()))
        return f"{self.family}/{body}"


def as_raw_key(key: Array) -> Array:
    """The uint32 data of a key, typed (`jax.random.key`) or raw (`jax.random.PRNGKey`)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def row_keys(key: Array, num: int, start: int | Array = 0) -> Array:
    """Keys of rows `start .. start+num` of a stream: `fold_in(key, start + r)`."""
    rows = jnp.asarray(start, jnp.uint32) + jnp.arange(num, dtype=jnp.uint32)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, rows)
