"""A learner in plain NumPy for hardnet's outside-learner protocol (docs/outside.md).

Random ReLU features and ridge regression on them, as a researcher might write it in an
afternoon: no JAX, no framework. Score it on the suite's CPU tier:

    hardnet-score --learner=examples/numpy_features.py:make --workdir=/tmp/score-numpy
"""

import numpy as np


class RandomReLUFeatures:
    """y ≈ relu(x W + b) β, with W ~ N(0, 1/d), b ~ N(0, 1) fixed and β by ridge regression,
    accumulated over chunks (`partial_fit`) so that any budget fits in memory."""

    def __init__(self, input_dim: int, seed: int, features: int = 1024, ridge: float = 1e-3):
        rng = np.random.default_rng(seed)
        self.w = rng.normal(0.0, 1.0 / np.sqrt(input_dim), (input_dim, features))
        self.b = rng.normal(0.0, 1.0, features)
        self.gram = np.zeros((features + 1, features + 1))
        self.moment = np.zeros(features + 1)
        self.rows, self.ridge, self.beta = 0, ridge, None

    def _features(self, x: np.ndarray) -> np.ndarray:
        phi = np.maximum(x.astype(np.float64) @ self.w + self.b, 0.0)
        return np.hstack([phi, np.ones((x.shape[0], 1))])

    def partial_fit(self, x: np.ndarray, y: np.ndarray) -> "RandomReLUFeatures":
        phi = self._features(x)
        self.gram += phi.T @ phi
        self.moment += phi.T @ y
        self.rows += x.shape[0]
        self.beta = None
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.beta is None:
            reg = self.ridge * self.rows * np.eye(self.gram.shape[0])
            self.beta = np.linalg.solve(self.gram + reg, self.moment)
        return (self._features(x) @ self.beta).astype(np.float32)


def make(input_dim: int, budget: int, seed: int) -> RandomReLUFeatures:
    """The factory hardnet calls: `make(input_dim, budget, seed)`."""
    return RandomReLUFeatures(input_dim, seed)
