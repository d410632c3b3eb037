"""Placeholder: being written."""

from hardnet.base import Instance

FAMILY = "easy_depth2"


def make(**kwargs) -> Instance:
    raise NotImplementedError(FAMILY)
