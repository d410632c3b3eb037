"""scikit-learn's gradient-boosted trees as a hardnet learner (docs/outside.md).

`HistGradientBoostingRegressor` on the labels: a learner class the built-in zoo lacks (trees
split on single coordinates and their interactions). Any scikit-learn estimator with `fit` and
`predict` works the same way. Score it on the suite's CPU tier:

    pip install scikit-learn
    hardnet-score --learner=examples/sklearn_hgb.py:make --workdir=/tmp/score-hgb
"""

from sklearn.ensemble import HistGradientBoostingRegressor


def make(input_dim: int, budget: int, seed: int) -> HistGradientBoostingRegressor:
    """The factory hardnet calls: `make(input_dim, budget, seed)`; defaults as shipped, squared
    error, early stopping on a 10% validation split once the budget exceeds 10,000 rows."""
    return HistGradientBoostingRegressor(max_iter=200, random_state=seed)
