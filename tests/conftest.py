"""Shared pytest setup: absl flags usable without app.run, and partitionable threefry."""

import jax
from absl import flags


def pytest_configure(config):
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    jax.config.update("jax_threefry_partitionable", True)
