"""Text forms shared by every layer: plain JSON with non-finite floats, canonical JSON, slugs,
markdown tables, and atomic file writes.

Rows are plain JSON (`to_jsonable`): numpy / JAX scalars and arrays become Python numbers and
(nested) lists, tuples become lists. Non-finite floats are encoded as the strings "nan", "inf",
"-inf" (`json.dumps(..., allow_nan=False)` would reject them, and `null` would be confused with a
missing value); `from_jsonable` decodes them, so a string equal to one of them is reserved and
rejected on write.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
TMP_SUFFIX = ".tmp"


def _float(v: float) -> float | str:
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def to_jsonable(x: Any, where: str = "row") -> Any:
    """Plain-JSON copy of `x`: numbers, strings, bools, None, lists, str-keyed dicts.

    numpy / JAX scalars and arrays -> Python numbers / nested lists; non-finite floats -> "nan",
    "inf", "-inf". Raises TypeError (naming the path) for anything else, ValueError for a string
    equal to a reserved non-finite token.
    """
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, str):
        if x in NONFINITE:
            raise ValueError(f"{where}: the string {x!r} is reserved for non-finite floats")
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return _float(float(x))
    if isinstance(x, Mapping):
        out = {}
        for k, v in x.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings, got {k!r}")
            out[k] = to_jsonable(v, f"{where}.{k}")
        return out
    if isinstance(x, list | tuple):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(x)]
    if isinstance(x, np.generic | np.ndarray) or hasattr(x, "__array__"):
        a = np.asarray(x)
        kind = a.dtype.kind
        if kind == "b":
            return a.tolist()
        if kind in "iu":
            return a.astype(np.int64).tolist()
        if kind == "U":
            return to_jsonable(a.tolist(), where)
        if kind in "cmMOS":
            raise TypeError(f"{where}: cannot convert dtype {a.dtype} to JSON")
        try:  # float16/32/64, bfloat16 and other ml_dtypes floats
            a = a.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{where}: cannot convert dtype {a.dtype} to JSON") from e
        return _nested_float(a.tolist())
    raise TypeError(f"{where}: cannot convert {type(x).__name__} to JSON")


def _nested_float(v: Any) -> Any:
    if isinstance(v, list):
        return [_nested_float(u) for u in v]
    return _float(v)


def from_jsonable(x: Any) -> Any:
    """Inverse of the non-finite encoding: "nan"/"inf"/"-inf" strings -> floats, recursively."""
    if isinstance(x, str):
        return NONFINITE.get(x, x)
    if isinstance(x, dict):
        return {k: from_jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_jsonable(v) for v in x]
    return x


def canonical(value: Any) -> str:
    """Canonical JSON text of a plain-JSON value: keys sorted, compact separators, no NaN (the
    form hashed into cell ids and checksums, and compared for equality)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def slug(text: str) -> str:
    """`text` with every run of characters other than `A-Za-z0-9_.` replaced by `_` (a safe file
    or tag name; leading and trailing `_` and `.` removed)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_.")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A markdown table: `align` has one character per column, `l` (default) or `r`; cells are
    `str()`-ed with `|` escaped, None written as empty."""
    cell = lambda v: "" if v is None else str(v).replace("|", "\\|")
    align = align.ljust(len(header), "l")
    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
    lines = ["| " + " | ".join(header) + " |", rule]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` so that readers and crashes see the old or the new file only."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
