"""Placeholder: being written."""

from hardnet.base import Instance

FAMILY = "natural_depth2"


def make(**kwargs) -> Instance:
    raise NotImplementedError(FAMILY)
