"""Shared pytest setup: absl flags usable without app.run, and partitionable threefry."""

import jax
from absl import flags


def pytest_configure(config):
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    jax.config.update("jax_threefry_partitionable", True)


def pytest_collection_modifyitems(session, config, items):
    """Tests marked `slow` first: under pytest-xdist the long ones (the :gpu rehearsal, the chaos
    run) then overlap the many short ones instead of running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
