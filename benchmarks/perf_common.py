"""Shared pieces of `benchmarks/perf.py`: timing, result rows, the header, Markdown and JSON.

A row compares one measurement of hardnet ("ours") with its peer. `ratio` is always oriented so
that higher is better for hardnet (ours/peer for throughputs, peer/ours for times and memory),
and `target` states the rule the ratio (or, where the row says so, the absolute number) must
meet. Tables list ratios first, absolute numbers second.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax


@dataclasses.dataclass
class Row:
    """One measurement against its peer.

    Attributes:
      item: the item of perf.py, e.g. "1 sampling".
      what: what was measured, with its sizes.
      ratio: higher is better for hardnet (None when there is no peer number).
      target: the rule, e.g. ">= 0.5"; "" where none is set.
      met: whether the target is met (None without a target).
      ours, unit: hardnet's absolute number and its unit.
      peer, peer_value: the peer's name and its number in the same unit.
      note: how to read the row (sizes, caveats).
    """

    item: str
    what: str
    ratio: float | None
    target: str
    met: bool | None
    ours: float
    unit: str
    peer: str = ""
    peer_value: float | None = None
    note: str = ""


def block(tree: Any) -> Any:
    """Wait for every array of a pytree (JAX, or anything else passed through)."""
    return jax.block_until_ready(tree)


def call_times(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> list[float]:
    """Wall seconds of `repeats` calls of `fn` after `warmup` untimed ones (results blocked on)."""
    for _ in range(warmup):
        block(fn())
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        block(fn())
        out.append(time.perf_counter() - start)
    return out


def best_time(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> float:
    """Smallest wall time of `repeats` calls of `fn` (after `warmup` untimed calls), seconds."""
    return min(call_times(fn, repeats, warmup))


def check_ratio(value: float | None, low: float | None) -> bool | None:
    """Whether a ratio meets `>= low` (None without a target or a number)."""
    if low is None or value is None or not math.isfinite(value):
        return None
    return bool(value >= low)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average() -> float | None:
    """1-minute load average (None where the OS does not report it)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


OTHERS_MAX = 0.2  # cores other processes may use on average before the verdicts are void


def cpu_clock() -> tuple[float, float] | None:
    """(busy CPU seconds of the whole machine, CPU seconds of this process and its waited-for
    children), from /proc/stat and `os.times()`; None where /proc/stat is missing."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    jiffies = [int(x) for x in fields]
    busy = sum(jiffies) - jiffies[3] - (jiffies[4] if len(jiffies) > 4 else 0)  # minus idle, iowait
    t = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), t.user + t.system + t.children_user + t.children_system


def others_cores(start: tuple[float, float] | None, end: tuple[float, float] | None,
                 wall: float) -> float | None:  # fmt: skip
    """Cores used on average by other processes between two `cpu_clock()` readings."""
    if start is None or end is None or wall <= 0:
        return None
    return max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / wall


def void_if_loaded(head: dict[str, Any], rows: Sequence[Row]) -> list[Row]:
    """Rows with every met/not met withdrawn (None, and the note says so) when the machine was not
    quiet: the 1-minute load at the start exceeded the CPU count (others were busy before the run),
    or other processes used more than `OTHERS_MAX` cores on average during it
    (`head["others_cores"]`; the 1-minute load during and after the run counts the benchmark's
    own threads, so it cannot tell). Sets `head["verdicts"]` either way."""
    cores = head.get("cpu_count") or 1
    start, others = head.get("load_start"), head.get("others_cores")
    if start is not None and others is not None and start <= cores and others <= OTHERS_MAX:
        head["verdicts"] = "valid"
        return list(rows)
    if start is None or others is None:
        head["verdicts"] = "void: the load was not reported"
    elif start > cores:
        head["verdicts"] = f"void: the 1-min load was {start:.2f} on {cores} CPUs at the start"
    else:
        head["verdicts"] = f"void: other processes used {others:.2f} cores during the run"
    out = []
    for r in rows:
        if r.met is not None:
            note = f"{r.note}; " if r.note else ""
            r = dataclasses.replace(r, met=None, note=f"{note}verdict void (load)")
        out.append(r)
    return out


def header(mode: str) -> dict[str, Any]:
    """Device, versions, CPU count and load: the context every table is read in."""
    dev = jax.devices()[0]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": mode,
        "device": f"{dev.platform}: {getattr(dev, 'device_kind', dev)}",
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("jax", "jaxlib", "numpy", "torch", "scikit-learn", "galois", "gpytorch")
        },
        "git": _git_revision(),
        "load_start": load_average(),
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:.3g}"
    return f"{value:.3g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def markdown(head: dict[str, Any], rows: Sequence[Row]) -> str:
    """The header as a list, then one table: ratios first, absolute numbers second."""
    versions = ", ".join(f"{k} {v}" for k, v in head["versions"].items())
    lines = [
        f"- device: {head['device']} ({head['cpu']}, {head['cpu_count']} CPUs)",
        f"- versions: Python {head['python']}, {versions}",
        f"- mode: {head['mode']}; {head['date']}; git {head['git']}; 1-min load "
        f"{_fmt(head.get('load_start'))} at start, {_fmt(head.get('load_end'))} at end; other "
        f"processes {_fmt(head.get('others_cores'))} cores on average"
        + (f"; {head['wall_s']:.0f} s" if "wall_s" in head else ""),
        *(
            [f"- **verdicts {head['verdicts']}**"]
            if head.get("verdicts", "valid") != "valid"
            else []
        ),
        "",
        "| item | measurement | ratio | target | met | ours | unit | peer | peer value | note |",
        "|---|---|---:|---|---|---:|---|---|---:|---|",
    ]
    for r in rows:
        met = "—" if r.met is None else ("**yes**" if r.met else "no")
        lines.append(
            f"| {r.item} | {r.what} | {_fmt(r.ratio)} | {r.target or '—'} | {met} | "
            f"{_fmt(r.ours)} | {r.unit} | {r.peer or '—'} | {_fmt(r.peer_value)} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def write(out_dir: str | os.PathLike, head: dict[str, Any], rows: Sequence[Row]) -> Path:
    """Write `perf.json` and `perf.md` (atomically) to `out_dir`; returns the Markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"header": head, "rows": [dataclasses.asdict(r) for r in rows]}
    for name, text in (
        ("perf.json", json.dumps(payload, indent=2, default=str)),
        ("perf.md", markdown(head, rows)),
    ):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out / name)
    return out / "perf.md"
