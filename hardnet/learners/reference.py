"""Reference predictors (docs/learners.md, oracle and trivial; docs/metrics.md, Advantage).

- `oracle`: the teacher itself, `ŷ(x) = N_s(x)` with the planted params: the error floor. It is
  the one learner that knows s, and it ignores the data.
- `trivial`: the best seed-agnostic predictor. It knows the family and its hyperparameters (the
  instance) but not the seed, and predicts the teacher averaged over the planted draw,

      ŷ(x) = E_params[N_params(x)] ≈ (1/R) Σ_{i<R} N_{params_i}(x),
      params_i = init(fold_in(key, i))

  a Monte Carlo estimate with R = `draws`. On informative PRG inputs with a balanced predicate
  `N_params(x) = P(s_S)` is a fair bit, so `ŷ = 1/2 ± 1/(2√R)` (the per-row Monte Carlo error,
  ≈ 0.03 at R = 256) and `mse_fresh(trivial) ≈ 1/4 + 1/(4R)`: the ceiling that `adv` measures
  against (`adv = 1 − mse_fresh(h) / mse_fresh(trivial)`).

Both fits are jit-able and vmappable. The oracle's params are fixed when the learner is built,
so to vmap over batched params build the learner inside the vmapped function:

    fit = lambda p, key, x, y: make_oracle(instance, p).fit(key, x, y)
    predictors = jax.vmap(fit)(params_batch, keys, xs, ys)     # state batched like params
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hardnet.core import validation
from hardnet.core.base import (
    Array,
    Instance,
    Learner,
    Monitor,
    Params,
    Predictor,
    Source,
    log_final,
)


def _check_instance(where: str, instance: object) -> Instance:
    if not isinstance(instance, Instance):
        raise ValueError(
            f"{where}: instance must be a hardnet.core.base.Instance "
            f"(hardnet.instances.make(...)), got {type(instance).__name__}"
        )
    return instance


def _check_x(where: str, instance: Instance, x: Array) -> None:
    if jnp.ndim(x) < 1 or jnp.shape(x)[-1] != instance.input_dim:
        raise ValueError(
            f"{where}: x must have shape [..., {instance.input_dim}] (the instance's input_dim), "
            f"got {jnp.shape(x)}"
        )


def _reference_shapes(instance: Instance) -> Params:
    return jax.eval_shape(instance.init, jax.random.key(0))


def make_oracle(instance: Instance | None = None, params: Params = None) -> Learner:
    """The teacher itself: `fit` ignores (key, x, y) and returns `instance.apply` at `params`.

    `params` must have the tree structure of `instance.init(key)`, each leaf's shape ending with
    the reference shape (leading batch axes are allowed for callers who vmap `apply`).
    """
    where = "oracle"
    instance = _check_instance(where, instance)
    if params is None:
        raise ValueError(f"{where}: params must be the planted params (instance.init(key))")
    ref = _reference_shapes(instance)
    ref_leaves, ref_tree = jax.tree_util.tree_flatten(ref)
    leaves, tree = jax.tree_util.tree_flatten(params)
    if tree != ref_tree:
        raise ValueError(f"{where}: params must have the structure {ref_tree}, got {tree}")
    for leaf, want in zip(leaves, ref_leaves, strict=True):
        shape = tuple(jnp.shape(leaf))
        if shape[len(shape) - len(want.shape) :] != tuple(want.shape) or len(shape) < len(
            want.shape
        ):
            raise ValueError(
                f"{where}: params leaf has shape {shape}, expected (..., {want.shape}) as from "
                f"instance.init"
            )

    config = {"instance": instance.id}
    return _data_free(where, instance, config, lambda key: params, instance.apply)


def make_trivial(
    instance: Instance | None = None, draws: int = 256, chunk: int | None = None
) -> Learner:
    """The teacher averaged over `draws` independent planted draws (seed-agnostic).

    Args:
      instance: the planted family at fixed hyperparameters (its seed is never used: the learner
        draws its own params from `key`).
      draws: R, the number of Monte Carlo draws; the per-row error is about `std(y)/√R`.
      chunk: draws evaluated at once in `apply` (memory `chunk × rows`); None picks the largest
        divisor of `draws` that is at most 16. Must divide `draws`.
    """
    where = "trivial"
    instance = _check_instance(where, instance)
    draws = validation.check_int("draws", draws, low=1)
    if chunk is None:
        chunk = max(c for c in range(1, min(draws, 16) + 1) if draws % c == 0)
    chunk = validation.check_int("chunk", chunk, low=1, high=draws)
    if draws % chunk:
        raise ValueError(f"chunk must divide draws={draws}, got {chunk}")
    ref = _reference_shapes(instance)
    param_bytes = sum(np.prod(leaf.shape) * leaf.dtype.itemsize for leaf in jax.tree.leaves(ref))
    validation.check_fits(f"{where}: {draws} draws of the params", draws * param_bytes, 1)

    def draw(key: Array) -> Params:
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(draws))
        return jax.vmap(instance.init)(keys)

    def apply(state: Params, x: Array) -> Array:
        _check_x(f"{where}.apply", instance, x)
        blocks = jax.tree.map(lambda a: a.reshape((draws // chunk, chunk) + a.shape[1:]), state)

        def step(total, block):
            return total + jnp.sum(jax.vmap(instance.apply, in_axes=(0, None))(block, x), 0), None

        one = jax.eval_shape(instance.apply, jax.tree.map(lambda a: a[0], state), x)
        zero = jnp.zeros(one.shape, one.dtype)
        return jax.lax.scan(step, zero, blocks)[0] / draws

    config = {"instance": instance.id, "draws": draws, "chunk": chunk}
    return _data_free(where, instance, config, draw, apply)


def _data_free(
    name: str,
    instance: Instance,
    config: dict[str, Any],
    state: Callable[[Array], Params],
    apply: Callable[[Params, Array], Array],
) -> Learner:
    """The learner `name` whose predictor ignores the data: `fit` checks the shape of x and
    returns `apply` at `state(key)` (the oracle learns nothing; for `trivial` the data carry the
    seed, so they are not used). `fit_online` reads one row of the stream (for the shape check),
    so a benchmark cell at any budget costs it nothing."""

    def fit(
        key: Array, x: Array, y: Array, budget: int | None = None, monitor: Monitor | None = None
    ) -> Predictor:
        del y, budget
        _check_x(f"{name}.fit", instance, x)
        return log_final(Predictor(state=state(key), info={}, apply=apply), monitor)

    def fit_online(
        key: Array, source: Source, budget: int, monitor: Monitor | None = None
    ) -> Predictor:
        del budget
        return fit(key, *source(jnp.zeros((), jnp.int32), 1), monitor=monitor)

    return Learner(name=name, config=config, fit=fit, fit_online=fit_online, vmappable=True)
