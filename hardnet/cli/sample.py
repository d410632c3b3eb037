"""hardnet-sample: write planted data of one instance to an .npz file (e.g. to train in PyTorch).

    hardnet-sample --family prg_boolean --param n=64 --param predicate=tsa \\
        --seed 0 --num 100000 --output data.npz

The instance is `make(family, **params)`, its planted network `init(key(seed))`, and the rows
`sample(params, key(data_seed), num)` (data_seed defaults to seed + 1). The file holds `x`, `y`,
each meta field as `meta_<name>`, the planted params as `param_<name>` (typed keys as their uint32
data), and `instance_id`, `family`, `config` (JSON), `seed`, `data_seed` and `version`. Read it
with `numpy.load(path)` (no pickle needed). Rows are sampled `--chunk` at a time and written to
disk as they come, so memory is bounded by the chunk; the file appears atomically when complete.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import numpy as np
from absl import app, flags

import hardnet
from hardnet.cli import common
from hardnet.core import streaming, validation
from hardnet.core.base import Instance
from hardnet.instances import families, make

PROG = "hardnet-sample"
MAX_SEED = 2**32 - 1  # jax.random.key folds larger seeds onto smaller ones without x64

_FAMILY = flags.DEFINE_string("family", None, "Instance family, one of: " + ", ".join(families()))
_PARAM = flags.DEFINE_multi_string(
    "param", [], "Family hyperparameter key=value (int/float/bool/none/str), repeatable."
)
_SEED = flags.DEFINE_integer(
    "seed", 0, "Seed of the planted network.", lower_bound=0, upper_bound=MAX_SEED
)
_DATA_SEED = flags.DEFINE_integer(
    "data_seed",
    None,
    "Seed of the data stream (default: seed + 1).",
    lower_bound=0,
    upper_bound=MAX_SEED,
)
_NUM = flags.DEFINE_integer(
    "num", None, "Number of rows.", lower_bound=1, upper_bound=streaming.MAX_ROWS
)
_CHUNK = flags.DEFINE_integer("chunk", 65536, "Rows per sampling step.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", None, "Path of the .npz file to write.")

for _name in ("family", "num", "output"):
    flags.mark_flag_as_required(_name)


def parse_value(text: str) -> Any:
    """`"64" -> 64`, `"1e-5" -> 1e-05`, `"true" -> True`, `"none" -> None`, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """`["n=64", "predicate=tsa"] -> {"n": 64, "predicate": "tsa"}`; ValueError if malformed."""
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"expected key=value, got {item!r}")
        if key in config:
            raise ValueError(f"--param {key} given twice")
        config[key] = parse_value(value.strip())
    return config


def _check_params(items: list[str]) -> bool:
    try:
        parse_params(items)
    except ValueError as error:
        raise flags.ValidationError(str(error)) from None
    return True


flags.register_validator(
    "family", lambda v: v is None or v in families(), "must be one of " + ", ".join(families())
)
flags.register_validator("param", _check_params)
flags.register_validator("output", lambda v: v is None or v.strip() != "", "must be a path")


def _to_numpy(leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(leaf)


def named_leaves(prefix: str, tree: Any) -> dict[str, np.ndarray]:
    """Leaves of a pytree as numpy arrays named `prefix + path` (path parts joined by ".")."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {
        prefix + jax.tree_util.keystr(path, simple=True, separator="."): _to_numpy(leaf)
        for path, leaf in leaves
    }


def _write_npy(zf: zipfile.ZipFile, name: str, value: Any) -> None:
    with zf.open(name + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)


def sample_to_npz(
    family: str,
    config: Mapping[str, Any],
    *,
    seed: int,
    data_seed: int,
    num: int,
    chunk: int,
    output: str,
) -> Instance:
    """Sample `num` rows of `make(family, **config)` into the .npz file `output` (atomically).

    Raises ValueError (naming the parameter) on bad arguments, before anything is compiled.
    """
    seed = validation.check_int("seed", seed, low=0, high=MAX_SEED)
    data_seed = validation.check_int("data_seed", data_seed, low=0, high=MAX_SEED)
    num = validation.check_int("num", num, low=1, high=streaming.MAX_ROWS)
    chunk = validation.check_int("chunk", chunk, low=1)
    check_output(output)
    try:
        instance = make(family, **config)
    except TypeError as error:  # an unknown keyword argument
        raise ValueError(f"bad parameter for {family}: {error}") from error
    params = instance.init(jax.random.key(seed))
    batches = streaming.stream(instance, params, jax.random.key(data_seed), num, chunk)
    output = os.path.abspath(output)
    directory = os.path.dirname(output)
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".hardnet-sample-") as tmp:
        columns: dict[str, np.memmap] = {}
        row = 0
        for x, y, meta in batches:
            fields = {**named_leaves("x", x), **named_leaves("y", y)}
            fields.update(named_leaves("meta_", meta))
            if not columns:  # one disk-backed array per field, filled chunk by chunk
                for i, (name, a) in enumerate(fields.items()):
                    path = os.path.join(tmp, f"{i}.npy")
                    shape = (num, *a.shape[1:])
                    columns[name] = np.lib.format.open_memmap(path, "w+", a.dtype, shape)
            for name, a in fields.items():
                columns[name][row : row + len(a)] = a
            row += len(x)
        extra = {
            "instance_id": instance.id,
            "family": instance.family,
            "config": json.dumps(dict(instance.config), sort_keys=True),
            "seed": np.int64(seed),
            "data_seed": np.int64(data_seed),
            "version": hardnet.__version__,
            **named_leaves("param_", params),
        }
        archive = os.path.join(tmp, "out.npz")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, column in columns.items():
                column.flush()
                zf.write(column.filename, name + ".npy")
            for name, value in extra.items():
                _write_npy(zf, name, value)
        del columns
        os.replace(archive, output)
    return instance


def check_output(output: str) -> None:
    """ValueError naming `output` when it cannot be the .npz file to write: a directory, under a
    path that is not a directory, or in a directory this process cannot write."""
    path = os.path.abspath(output)
    if os.path.isdir(path):
        raise ValueError(f"output {output} is a directory; give the path of the .npz file to write")
    parent = os.path.dirname(path)
    while not os.path.exists(parent):  # created on the way: check the closest existing one
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"output {output}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"output {output}: cannot write in {parent}")


def _fail(message: object) -> None:
    common.fail(PROG, message)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)  # no INFO lines about absent TPUs
    seed = _SEED.value
    data_seed = seed + 1 if _DATA_SEED.value is None else _DATA_SEED.value
    config = parse_params(_PARAM.value)
    try:
        instance = sample_to_npz(
            _FAMILY.value,
            config,
            seed=seed,
            data_seed=data_seed,
            num=_NUM.value,
            chunk=_CHUNK.value,
            output=_OUTPUT.value,
        )
    except NotImplementedError:
        _fail(f"family {_FAMILY.value} is not implemented yet")
    except ValueError as error:
        _fail(error)
    except OSError as error:  # the disk: full, gone, read-only after the checks
        where = f" ({error.filename})" if error.filename else ""
        _fail(f"cannot write --output {_OUTPUT.value}: {error.strerror or error}{where}")
    print(f"wrote {_NUM.value} rows of {instance.id} to {_OUTPUT.value}")


def run() -> None:
    """Entry point of the `hardnet-sample` console script."""
    app.run(main, flags_parser=common.flags_parser(PROG))


if __name__ == "__main__":
    run()
