"""Placeholder: being written."""

from hardnet.base import Learner

NAME = "kernel"


def make(**kwargs) -> Learner:
    raise NotImplementedError(NAME)
