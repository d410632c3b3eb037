"""Placeholder: being written."""

from hardnet.base import Learner

NAME = "tensor"


def make(**kwargs) -> Learner:
    raise NotImplementedError(NAME)
