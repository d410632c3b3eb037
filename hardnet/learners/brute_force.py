"""Placeholder: being written."""

from hardnet.base import Learner

NAME = "brute_force"


def make(**kwargs) -> Learner:
    raise NotImplementedError(NAME)
