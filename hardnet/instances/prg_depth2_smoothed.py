"""Placeholder: being written."""

from hardnet.base import Instance

FAMILY = "prg_depth2_smoothed"


def make(**kwargs) -> Instance:
    raise NotImplementedError(FAMILY)
