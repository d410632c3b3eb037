"""Placeholder: being written."""

from hardnet.base import Instance

FAMILY = "prg_gauss3_dv21"


def make(**kwargs) -> Instance:
    raise NotImplementedError(FAMILY)
