"""Placeholder: being written."""

from hardnet.base import Learner

NAME = "gf2"


def make(**kwargs) -> Learner:
    raise NotImplementedError(NAME)
