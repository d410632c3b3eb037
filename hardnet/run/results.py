"""The workdir store: crash-safe, shard-safe results of a benchmark run.

Layout of a workdir::

    config.json          the run's config (written once; a restart must pass an equal config)
    meta.json            package versions, the lockfile installed from (`lock`), devices,
                         platform, python, git revision, seeds, start time; `sessions`
                         lists every open (restarts, shards)
    cells/<cell_id>.json one file per finished cell: `{"cell_id", "sha256", "rows"}`, the rows
                         (one per run = instance seed x learner seed) and the SHA-256 of their
                         canonical JSON lines, written exactly once by one process
    results.jsonl        every row of every finished cell, one JSON object per line, rebuilt
                         from cells/ after each cell write
    .lock                `fcntl.flock` lock serializing config checks and results.jsonl rebuilds

Guarantees:
- Atomic writes: temp file in the same directory, flush + fsync, `os.replace`, fsync of the
  directory. A SIGKILL at any moment leaves the old or the new file, never a partial one
  (stray `.*.tmp` files of killed writers are ignored; open removes those older than 10 min).
- `results.jsonl` is a pure function of the cell files: cells sorted by (position in
  `cell_order`, then cell id; cells not in `cell_order` come after, by id), rows in the order
  given, keys sorted, compact separators. Hence the bytes are the same whether the cells finished
  in one run, across a crash and restart, or in several shards (merged or writing into one
  workdir concurrently: each rebuild runs under the lock after its own cell file is in place, so
  the last rebuild sees every cell).
- Open rebuilds `results.jsonl`, so a kill between a cell write and its rebuild loses nothing.
- A cell file that does not parse or whose rows do not match their checksum (truncated or
  damaged outside hardnet) is never read: it is moved aside to `cells/<cell_id>.json.corrupt`
  with a warning, the cell counts as not done, and the run recomputes it. (Files of the older
  format, a bare JSON list of rows, are read if they parse.)
- `Store.run_lock(shard)` is held for the whole of a run: a second run of the same shard on the
  same workdir stops with a message naming the holder; different shards cooperate.

Rows are plain JSON (`core.textio.to_jsonable`: non-finite floats as "nan", "inf", "-inf");
`Store.rows()` decodes them back to floats, anywhere in a row. Provenance (`meta.json`) comes
from `run/provenance.py`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hardnet.core.rows import Row
from hardnet.core.textio import (
    TMP_SUFFIX,
    atomic_write_text,
    canonical,
    from_jsonable,
    to_jsonable,
)
from hardnet.run.provenance import collect_meta

CELL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+,-]{0,199}$")


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Exclusive `flock` on `<root>/.lock` (inter-process; released on exit or process death)."""
    with open(root / ".lock", "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------ store
def check_cell_id(cell_id: str) -> str:
    if not isinstance(cell_id, str) or not CELL_ID_RE.match(cell_id):
        raise ValueError(
            f"cell_id must match {CELL_ID_RE.pattern} (a safe file name), got {cell_id!r}"
        )
    return cell_id


def _normalize_config(config: Any) -> dict[str, Any]:
    if hasattr(config, "to_dict"):  # ml_collections.ConfigDict
        config = config.to_dict()
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    return json.loads(canonical(to_jsonable(dict(config), "config")))


class WorkdirBusy(Exception):
    """Another run holds this workdir's run lock for the same shard."""


def _checksum(lines: Sequence[str]) -> str:
    return hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()


def _parse_cell(text: str, cell_id: str) -> list[Any]:
    """The raw rows of a cell file; ValueError if it does not parse or fails its checksum."""
    data = json.loads(text)
    if isinstance(data, list):  # the older format: a bare list of rows
        rows = data
    elif isinstance(data, dict) and isinstance(data.get("rows"), list):
        rows = data["rows"]
        if data.get("cell_id") != cell_id:
            raise ValueError(f"holds cell {data.get('cell_id')!r}")
        if data.get("sha256") != _checksum([canonical(r) for r in rows]):
            raise ValueError("checksum mismatch")
    else:
        raise ValueError("not a list of rows")
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError("a row is not an object")
    return rows


class Store:
    """A workdir (see module docstring). Build with `open_workdir`."""

    def __init__(self, root: Path, config: dict[str, Any], cell_order: Sequence[str] = ()):
        self.root = root
        self.cells_dir = root / "cells"
        self.results_path = root / "results.jsonl"
        self.config = config
        self.cell_order = list(cell_order)
        self._rank = {c: i for i, c in enumerate(self.cell_order)}
        self._cache: dict[str, tuple[tuple[int, int, int], list[Any]]] = {}

    def _cell_path(self, cell_id: str) -> Path:
        return self.cells_dir / f"{check_cell_id(cell_id)}.json"

    def done(self, cell_id: str) -> bool:
        """Whether the cell's file exists and is intact (a damaged one is moved aside)."""
        path = self._cell_path(cell_id)
        return path.is_file() and self._cell_rows_raw(path) is not None

    def done_cells(self) -> list[str]:
        """The ids of the intact cell files (damaged ones are moved aside)."""
        paths = sorted(self.cells_dir.glob("*.json"))
        return [p.stem for p in paths if self._cell_rows_raw(p) is not None]

    @contextlib.contextmanager
    def run_lock(self, shard_index: int = 0, num_shards: int = 1) -> Iterator[None]:
        """Hold `.run-<shard>-of-<num>.lock` for a run (module docstring); WorkdirBusy if held."""
        path = self.root / f".run-{shard_index}-of-{num_shards}.lock"
        with open(path, "a+") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise WorkdirBusy(
                    f"workdir {self.root} is in use by another run of shard {shard_index}/"
                    f"{num_shards} ({holder}); wait for it to finish, or use another --workdir "
                    "or another --shard_index"
                ) from None
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def write_cell(self, cell_id: str, rows: Sequence[Row]) -> None:
        """Atomically write the cell's rows, then rebuild results.jsonl.

        Each row gets `cell_id` (it must match if already present).
        """
        path = self._cell_path(cell_id)
        out = []
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise TypeError(f"{cell_id}: row {i} must be a mapping, got {type(row).__name__}")
            r = to_jsonable(dict(row), f"{cell_id}[{i}]")
            if r.setdefault("cell_id", cell_id) != cell_id:
                raise ValueError(f"{cell_id}: row {i} has cell_id {r['cell_id']!r}")
            out.append(r)
        lines = [canonical(r) for r in out]
        head = canonical({"cell_id": cell_id, "sha256": _checksum(lines)})[:-1]
        atomic_write_text(path, head + ',"rows":[\n' + ",\n".join(lines) + "\n]}\n")
        self.rebuild()

    def read_cell(self, cell_id: str) -> list[Row]:
        rows = self._cell_rows_raw(self._cell_path(cell_id))
        if rows is None:
            raise ValueError(f"cell {cell_id} has no intact file in {self.cells_dir}")
        return from_jsonable(rows)

    def _sort_key(self, cell_id: str) -> tuple[int, str]:
        return (self._rank.get(cell_id, len(self._rank)), cell_id)

    def _cell_rows_raw(self, path: Path) -> list[Any] | None:
        """The rows of an intact cell file (cached by inode, mtime and size), or None after
        moving a damaged one aside to `<name>.corrupt`."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._cache.get(path.stem)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            rows = _parse_cell(path.read_text("utf-8"), path.stem)
        except (ValueError, UnicodeDecodeError) as error:
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(path.name + ".corrupt"))
            sys.stderr.write(
                f"hardnet: warning: cell file {path} is damaged ({error}); moved aside to "
                f"{path.name}.corrupt, the cell will be recomputed\n"
            )
            return None
        self._cache[path.stem] = (stamp, rows)
        return rows

    def rebuild(self) -> int:
        """Rewrite results.jsonl from cells/ under the lock; returns the number of rows."""
        with _locked(self.root):
            cells = sorted(self.done_cells(), key=self._sort_key)
            lines = []
            for c in cells:
                rows = self._cell_rows_raw(self.cells_dir / f"{c}.json")
                lines.extend(canonical(r) for r in rows or ())
            atomic_write_text(self.results_path, "".join(line + "\n" for line in lines))
        return len(lines)

    def rows(self) -> list[Row]:
        """All rows of results.jsonl, with "nan"/"inf"/"-inf" decoded to floats."""
        if not self.results_path.exists():
            return []
        with open(self.results_path, encoding="utf-8") as f:
            return [from_jsonable(json.loads(line)) for line in f if line.strip()]


def _remove_stale_tmp(d: Path, min_age_s: float = 600.0) -> None:
    """Remove temp files of killed writers (old ones only: a live shard may be mid-write)."""
    now = time.time()
    for p in d.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > min_age_s:
                p.unlink()


def open_workdir(
    path: str | os.PathLike,
    config: Any,
    *,
    cell_order: Sequence[str] = (),
    seeds: Any = None,
    probe_devices: bool = True,
    write_meta: bool = True,
    device: Mapping[str, Any] | None = None,
) -> Store:
    """Create or reopen a workdir for `config`.

    Raises ValueError if the workdir already holds a different config. Records this session in
    meta.json (top-level fields: the latest session; `sessions`: every open) and rebuilds
    results.jsonl. `seeds` defaults to the config's keys containing "seed". `device`: the probe
    of the process that runs the cells (`run/probe.py`), recorded instead of this process's.
    """
    root = Path(path)
    cfg = _normalize_config(config)
    (root / "cells").mkdir(parents=True, exist_ok=True)
    if seeds is None:
        seeds = {k: v for k, v in cfg.items() if "seed" in k.lower()} or None
    meta = None
    if write_meta:
        meta = collect_meta(to_jsonable(seeds, "seeds"), probe_devices and device is None)
        if device is not None:  # where the cells run (run/probe.py), not this process
            meta.update(
                backend=device["backend"],
                device_kind=[device["device_kind"]],
                local_device_count=device["local_device_count"],
                worker=dict(device),
            )
    with _locked(root):
        cfg_path = root / "config.json"
        if cfg_path.exists():
            stored = json.loads(cfg_path.read_text("utf-8"))
            if stored != cfg:
                diff = sorted(
                    k for k in set(stored) | set(cfg) if stored.get(k, ...) != cfg.get(k, ...)
                )
                raise ValueError(
                    f"workdir {root} belongs to another config (differing keys: "
                    f"{', '.join(diff) or '(nested)'}); use a fresh --workdir"
                )
        else:
            atomic_write_text(cfg_path, json.dumps(cfg, sort_keys=True, indent=2) + "\n")
        _remove_stale_tmp(root)
        _remove_stale_tmp(root / "cells")
        if meta is not None:
            meta_path = root / "meta.json"
            sessions = []
            if meta_path.exists():
                with contextlib.suppress(ValueError):
                    sessions = json.loads(meta_path.read_text("utf-8")).get("sessions", [])
            keep = ("start_time", "host", "pid", "git_revision", "process_index", "argv")
            sessions.append({k: meta.get(k) for k in keep})
            meta = to_jsonable({**meta, "sessions": sessions}, "meta")
            atomic_write_text(meta_path, json.dumps(meta, sort_keys=True, indent=2) + "\n")
    store = Store(root, cfg, cell_order)
    store.rebuild()
    return store


def _untimed(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`rows` without their timings (`compile_s`, `run_s`), which differ between any two runs."""
    return [{k: v for k, v in row.items() if k not in ("compile_s", "run_s")} for row in rows]


def merge_workdirs(
    dst: str | os.PathLike,
    srcs: Sequence[str | os.PathLike],
    *,
    cell_order: Sequence[str] = (),
    probe_devices: bool = True,
) -> Store:
    """Merge shard workdirs `srcs` into `dst` (created with their common config).

    All configs must be equal (ValueError otherwise). A cell present in several workdirs must have
    identical rows apart from their timings (`compile_s`, `run_s`; ValueError otherwise): true of
    a cell file copied twice, and of a cell run twice on one machine, not necessarily of one run
    on two processors (docs/reliability.md, "What is bit-identical"). Copies cell files
    atomically, then rebuilds.
    """
    if not srcs:
        raise ValueError("merge_workdirs: srcs is empty")
    configs = []
    for s in srcs:
        p = Path(s) / "config.json"
        if not p.is_file():
            raise ValueError(f"merge_workdirs: {s} is not a workdir (no config.json)")
        configs.append(json.loads(p.read_text("utf-8")))
    for s, c in zip(srcs[1:], configs[1:], strict=True):
        if c != configs[0]:
            raise ValueError(f"merge_workdirs: {s} belongs to another config than {srcs[0]}")
    store = open_workdir(dst, configs[0], cell_order=cell_order, probe_devices=probe_devices)
    dst_root = store.root.resolve()
    for s in srcs:
        if Path(s).resolve() == dst_root:
            continue
        for p in sorted((Path(s) / "cells").glob("*.json")):
            text = p.read_text("utf-8")
            try:
                rows = _parse_cell(text, p.stem)
            except ValueError as error:
                raise ValueError(f"merge_workdirs: cell file {p} is damaged ({error})") from None
            target = store.cells_dir / p.name
            if store.done(p.stem):
                if _untimed(store.read_cell(p.stem)) != _untimed(from_jsonable(rows)):
                    raise ValueError(
                        f"merge_workdirs: cell {p.stem} differs between workdirs (rows of one "
                        "cell run on two processors may differ in float values: keep one copy)"
                    )
                continue
            atomic_write_text(target, text)
        tb = Path(s) / "tb"
        if tb.is_dir():
            shutil.copytree(tb, store.root / "tb", dirs_exist_ok=True)
    store.rebuild()
    return store
