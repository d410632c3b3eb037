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
import functools
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
class Encoding:
    """The public encoding of a PRG instance: what structure-aware controls may know.

    Attributes:
      name: the encoding's id, e.g. "bbin" (docs/instances.md, Encodings).
      decode: the public decoder, `x -> (hyperedge int32[num, k], valid bool[num])`.
      predicate: the PRG predicate P (`hardnet.core.prg.Predicate`).
      n: the seed length.
      informative: `x -> bool[num]`, whether rows are informative, from x and the encoding
        alone (equals `meta["informative"]`); None where every decodable row is.
    """

    name: str
    decode: DecodeFn
    predicate: Any
    n: int
    informative: Callable[[Array], Array] | None = None


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
      encoding: the public encoding of a PRG family (`Encoding`), None for other families.
      notes: flags that results must carry, e.g. ("unsafe tau",) or ("empirically smoothed",).
      materialized: for lazily evaluated families, a float64 NumPy reference evaluator for tiny
        sizes: `(params, x) -> (y, pre)` with every hidden unit's pre-activation `pre[num, units]`.
      teacher_directions: `params -> W [d, m]`, the teacher's first-layer directions (columns)
        where they are identifiable (F6), for `hardnet.analysis.metrics.best_cosines`; else None.
    """

    family: str
    config: Mapping[str, Any]
    input_dim: int
    init: InitFn
    sample: SampleFn
    apply: ApplyFn
    informative_fraction: float
    describe: Callable[[Params], dict[str, Array]] = lambda params: {}
    encoding: Encoding | None = None
    notes: tuple[str, ...] = ()
    materialized: Callable[[Params, Array], tuple[Any, Any]] | None = None
    teacher_directions: Callable[[Params], Array] | None = None

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


# ----------------------------------------------------------------------------------------------
# Learners (docs/learners.md). A learner is a pure pair, like an optax transformation:
#
#     fit(key, x, y, budget) -> Predictor       # jit-able; vmap-able for generic learners
#     predictor(x) -> y_hat                     # Predictor.apply(Predictor.state, x)
#
# Learners see only (x, y) and `Public` knowledge; never `meta`, params or the seed.


@dataclasses.dataclass(frozen=True)
class Public:
    """What a learner may know about an instance: its shape, and for structure-aware controls the
    public encoding (`Encoding`: decoder, predicate, n). Never the seed, params or meta."""

    input_dim: int
    family: str = ""
    encoding: Encoding | None = None

    @classmethod
    def of(cls, instance: Instance) -> Public:
        return cls(instance.input_dim, instance.family, instance.encoding)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Predictor:
    """A fitted model: `state` (a pytree, batched under vmap), `info` (per-step curves and
    diagnostics, arrays), and the static `apply(state, x) -> y_hat`."""

    state: Any
    info: dict[str, Array]
    apply: Callable[[Any, Array], Array] = dataclasses.field(metadata={"static": True})

    def __call__(self, x: Array) -> Array:
        return self.apply(self.state, jnp.asarray(x))


Monitor = Callable[[Callable[[Array], Array], Any], dict[str, Array]]
"""`monitor(predict, first_layer) -> {name: array}`: evaluated (inside jit) at a learner's log
points, e.g. test losses on informative and fresh inputs computed by the runner, or teacher
alignment from `first_layer` (`[width, d]` rows, or None). Its values (scalars or small arrays,
e.g. `best_cosines` per teacher direction) land in `Predictor.info` stacked over log points;
learners never train on them."""


def log_final(predictor: Predictor, monitor: Monitor | None) -> Predictor:
    """`predictor` with one log point of `monitor` at the end of training, for learners without
    a training loop: `info[name] = value[None]` besides the learner's own info."""
    if monitor is None:
        return predictor
    logged = {name: jnp.asarray(v)[None] for name, v in monitor(predictor, None).items()}
    return dataclasses.replace(predictor, info={**predictor.info, **logged})


class FitFn(Protocol):
    def __call__(
        self,
        key: Array,
        x: Array,
        y: Array,
        budget: int | None = None,
        monitor: Monitor | None = None,
    ) -> Predictor: ...


def jit_fit(fit: FitFn) -> FitFn:
    """`fit` jitted with `budget` and `monitor` static: called eagerly, one compiled program per
    shape instead of one per primitive; inside another jit (the runner's), inlined."""
    return jax.jit(fit, static_argnames=("budget", "monitor"))


class Source(Protocol):
    """An online data source hiding the teacher: `source(start, num) -> (x, y)`, rows
    `start .. start+num` of one data stream (`start` traced, `num` static; jit-able). The runner's
    source is the instance's training stream, `sample(params, key_train, num, start)` without its
    meta, so the rows an online learner sees at a budget are a prefix of those at a larger one."""

    def __call__(self, start: Array, num: int) -> tuple[Array, Array]: ...


@dataclasses.dataclass(frozen=True)
class Learner:
    """A learner at fixed, validated hyperparameters.

    Attributes:
      name: registry id, e.g. "sgd".
      config: the validated hyperparameters, defaults filled in (JSON-serializable).
      fit: `(key, x, y, budget) -> Predictor` on a finite sample; `budget` caps the optimization
        work (steps or samples, as the learner documents), None for its default.
      fit_online: `(key, source, budget, monitor=None) -> Predictor`, drawing fresh batches from
        `source` until `budget` samples are seen (memory independent of the budget), or None.
      vmappable: whether `fit` can be `jax.vmap`-ed over (key, x, y) (generic learners must be;
        controls that search or eliminate on the host are not).
      estimate: `(rows, d) -> (bytes, flops)`, the working memory of one fit on `rows` rows of
        dimension `d` beyond its inputs (for `fit_online`, `rows` is the whole budget and the
        learner counts what it holds at once) and its floating-point work: what a benchmark plan
        (`hardnet-bench --dry_run`) adds up before anything runs. None: the plan assumes one
        copy of the data and `rows · d` flops.
      curves: the `info` entries that are curves along training (one value per log point; the
        x-axis is `info["step"]` where the learner logs it). A name `monitor/<m>` is the output
        `<m>` of the monitor, found in `info` under either name.
      first_layer: `state -> rows [width, d]`, the learned first-layer directions (compared with
        a teacher's by `hardnet.analysis.metrics.best_cosines`), or None.
      describe_failure: `code -> (failures, flags)` for the bit mask `info["failure_reason"]`:
        texts that void the run's predictions, and diagnoses recorded with a scored run; None
        when `info["failed"]` needs no decoding.
      matmul_precision: the `jax.default_matmul_precision` its programs are traced under
        (the runner's), e.g. "highest" where float32 accuracy matters (Gram blocks, normal
        equations, moment tensors): accelerators otherwise multiply float32 at TF32-class
        precision. None: jax's default.
    """

    name: str
    config: Mapping[str, Any]
    fit: FitFn
    fit_online: Callable[..., Predictor] | None = None
    vmappable: bool = True
    estimate: Callable[[int, int], tuple[float, float]] | None = None
    curves: tuple[str, ...] = ()
    first_layer: Callable[[Any], Array] | None = None
    describe_failure: Callable[[int], tuple[list[str], list[str]]] | None = None
    matmul_precision: str | None = None

    def __post_init__(self) -> None:
        # NumPy and JAX arrays alike: x and y become JAX arrays at the API boundary (a NumPy
        # array indexed by a traced index inside `lax.scan` would raise).
        if not getattr(self.fit, "_hardnet_array_inputs", False):
            object.__setattr__(self, "fit", _array_inputs(self.fit))


def _array_inputs(fit: FitFn) -> FitFn:
    """`fit` with `x` and `y` passed through `jnp.asarray` (a no-op on JAX arrays and tracers)."""

    @functools.wraps(fit)
    def wrapped(key: Array, x: Array, y: Array, *args: Any, **kwargs: Any) -> Predictor:
        x, y = (a if a is None else jnp.asarray(a) for a in (x, y))
        return fit(key, x, y, *args, **kwargs)

    wrapped._hardnet_array_inputs = True  # type: ignore[attr-defined]
    return wrapped
