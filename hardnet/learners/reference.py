"""Placeholder: being written."""

from hardnet.base import Learner


def make_oracle(**kwargs) -> Learner:
    raise NotImplementedError("oracle")


def make_trivial(**kwargs) -> Learner:
    raise NotImplementedError("trivial")
