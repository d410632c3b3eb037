"""Placeholder: being written."""

from hardnet.base import Learner

NAME = "poly"


def make(**kwargs) -> Learner:
    raise NotImplementedError(NAME)
