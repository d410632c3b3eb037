"""Placeholder: being written."""

from hardnet.base import Learner

NAME = "sgd"


def make(**kwargs) -> Learner:
    raise NotImplementedError(NAME)
