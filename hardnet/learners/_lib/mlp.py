"""The multilayer perceptron trained by the `sgd` learner (docs/learners.md, `sgd`).

With `depth` hidden layers of `width` units and activation σ,

    h_0 = x,   h_l = σ(W_l h_{l−1} + b_l)  (l = 1..depth),   f(x) = ⟨v, h_depth⟩ + c,

a scalar per row. Hidden weights use flax's default LeCun-normal init (variance `1/fan_in`),
biases start at 0; the readout `v` is LeCun-normal times `init_scale`, the output scale α of
[Chizat, Oyallon & Bach 2019, "On lazy training"]: large α pushes training towards the lazy
(kernel) regime, small α towards feature learning.

The module is written in `flax.nnx`; training works on its parameter state
(`nnx.split(module) -> (graphdef, state)`, a pytree), so `jax.grad`, `jax.vmap` over seeds and
`lax.scan` over steps are plain JAX: `init(key, d) -> state`, `forward(state, x) -> f(x)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hardnet.core.base import Array

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "tanh": jnp.tanh,
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "elu": jax.nn.elu,
    "leaky_relu": jax.nn.leaky_relu,
    "identity": lambda t: t,
}


class MLP(nnx.Module):
    """`x[..., d] -> f(x)[...]`: `depth` hidden layers of `width` units, scalar readout."""

    def __init__(
        self,
        d: int,
        depth: int,
        width: int,
        activation: str,
        init_scale: float,
        *,
        rngs: nnx.Rngs,
    ):
        sizes = [d] + [width] * depth
        self.hidden = nnx.List(
            [nnx.Linear(sizes[i], sizes[i + 1], rngs=rngs) for i in range(depth)]
        )
        readout_init = nnx.initializers.variance_scaling(
            init_scale**2, "fan_in", "truncated_normal"
        )
        self.readout = nnx.Linear(width, 1, kernel_init=readout_init, rngs=rngs)
        self.activation = activation

    def __call__(self, x: Array) -> Array:
        sigma = ACTIVATIONS[self.activation]
        for layer in self.hidden:
            x = sigma(layer(x))
        return self.readout(x)[..., 0]


class Network:
    """The MLP of one configuration as pure functions of its parameter state."""

    def __init__(self, depth: int, width: int, activation: str, init_scale: float):
        self.depth, self.width = depth, width
        self.activation, self.init_scale = activation, init_scale

    def _module(self, d: int, key: Any) -> MLP:
        return MLP(
            d, self.depth, self.width, self.activation, self.init_scale, rngs=nnx.Rngs(params=key)
        )

    @functools.cache  # noqa: B019 (one Network per learner; keyed by the input dimension)
    def graphdef(self, d: int) -> nnx.GraphDef:
        return nnx.split(nnx.eval_shape(lambda: self._module(d, 0)))[0]

    def init(self, key: Array, d: int) -> nnx.State:
        """Fresh parameters for inputs of dimension `d` (pure in `key`; jit/vmap-able)."""
        return nnx.split(self._module(d, key))[1]

    def forward(self, state: nnx.State, x: Array) -> Array:
        """`f(x)` (pre-link output), one scalar per row of `x[num, d]` (bool/int x as float32)."""
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        return nnx.merge(self.graphdef(x.shape[-1]), state)(x)

    @staticmethod
    def first_layer(state: nnx.State) -> Array:
        """First-layer weights as rows `[width, d]` (one row per hidden unit)."""
        return state["hidden"][0]["kernel"][...].T
