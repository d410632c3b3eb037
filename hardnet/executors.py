"""Executors: how the cells of a grid are run. Each yields `(cell, rows)` as cells finish.

The driver (`hardnet.cli.bench.run_grid`) writes every yielded cell to the workdir
(`hardnet.results`), so resume semantics do not depend on the executor: a cell is done once its
`cells/<cell_id>.json` exists, whichever executor ran it.

- `local`: the cells one after another in this process (`hardnet.runner.run_cell`); each cell
  already trains all its seeds in one program sharded over the local devices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hardnet import runner
from hardnet.grid import Cell

Rows = list[dict[str, Any]]
Executor = Callable[[Sequence[Cell], int], Iterator[tuple[Cell, Rows]]]


def local(cells: Sequence[Cell], seed: int) -> Iterator[tuple[Cell, Rows]]:
    """Run `cells` in order in this process."""
    for cell in cells:
        yield cell, runner.run_cell(cell, seed_base=seed)


EXECUTORS: dict[str, Executor] = {"local": local}


def get(name: str) -> Executor:
    """The executor called `name` (ValueError naming the choices otherwise)."""
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return EXECUTORS[name]
