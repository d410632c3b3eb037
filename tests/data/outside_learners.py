"""Outside learners for tests/test_outside.py: one that works, and one per way of failing."""

import time

import numpy as np


class Mean:
    """Predicts the mean training label (works; learns nothing)."""

    def __init__(self, rows=0):
        self.rows, self.total = rows, 0.0

    def fit(self, x, y):
        self.rows, self.total = len(y), float(np.sum(y))
        return self

    def predict(self, x):
        return np.full(len(x), self.total / max(self.rows, 1), np.float32)


class Linear(Mean):
    """Least squares on x (learns a dictator control)."""

    def fit(self, x, y):
        a = np.hstack([x, np.ones((len(x), 1), np.float32)])
        self.w = np.linalg.lstsq(a, y, rcond=None)[0]
        return self

    def predict(self, x):
        return np.hstack([x, np.ones((len(x), 1), np.float32)]) @ self.w


class Raises(Mean):
    def fit(self, x, y):
        raise RuntimeError("boom in fit\nsecond line")


class NaNs(Mean):
    def predict(self, x):
        out = super().predict(x)
        out[::7] = np.nan
        return out


class WrongShape(Mean):
    def predict(self, x):
        return np.zeros((len(x), 2), np.float32)


class Sleeps(Mean):
    def fit(self, x, y):
        time.sleep(3600)


def good(input_dim, budget, seed):
    return Mean()


def linear(input_dim, budget, seed):
    return Linear()


def raises(input_dim, budget, seed):
    return Raises()


def nans(input_dim, budget, seed):
    return NaNs()


def wrong_shape(input_dim, budget, seed):
    return WrongShape()


def sleeps(input_dim, budget, seed):
    return Sleeps()


def no_predict(input_dim, budget, seed):
    return object()
