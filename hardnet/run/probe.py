"""Where the cells run, asked of the process that runs them (docs/reliability.md, "Where it ran").

The driver of `hardnet-bench` never initializes an accelerator: with cells in worker processes
(the local watchdog, Ray) it pins its own jax to the CPU, plans there, and learns the device the
cells will use from a worker's answer to `probe()` at start-up. The plan's memory budget is that
device's (`budget`), `meta.json` records the answer, and every row records the backend and
device kind of the process that produced it (`runner.run_cell`).

A worker that cannot run where it was asked fails in seconds, with one line (`check`):
- `--jax_platforms=cuda` on a machine without CUDA: jax's own error, raised by `probe()`;
- no `--jax_platforms` on a machine whose CUDA plugin is installed but fails to start: jax falls
  back to the CPU with a warning; `check` refuses that silent fallback (ask for
  `--jax_platforms=cpu` to run on the CPU on purpose).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Any

# The environment that decides how much of an accelerator jax takes (its allocator).
ALLOCATOR_ENV = (
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "XLA_PYTHON_CLIENT_ALLOCATOR",
)
# jax's accelerator plugins, by the platform they provide.
PLUGINS = {
    "cuda": ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_plugins.xla_cuda12"),
    "rocm": ("jax_rocm60_plugin", "jax_plugins.xla_rocm60"),
    "tpu": ("libtpu",),
}


def probe() -> dict[str, Any]:
    """What this process runs on: jax's backend, the first local device's platform and kind,
    the local device count, the device's memory limit (`bytes_limit`, None where the backend
    reports none: the CPU, or the `platform` allocator), the allocator's environment, jax's
    version, and the accelerator plugins installed. Initializes jax's backends."""
    import jax

    try:
        devices = jax.local_devices()
    except Exception as error:  # jax's own error can be empty (an AssertionError for cuda)
        asked = jax.config.jax_platforms or "the default platforms"
        why = f"{type(error).__name__}: {error}".strip().rstrip(":")
        raise RuntimeError(f"jax cannot start {asked} in this process ({why})") from None
    try:
        stats = devices[0].memory_stats() or {}
    except Exception:  # backends without memory statistics
        stats = {}
    return {
        "backend": jax.default_backend(),
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "local_device_count": len(devices),
        "bytes_limit": float(stats["bytes_limit"]) if stats.get("bytes_limit") else None,
        "allocator": {k: os.environ[k] for k in ALLOCATOR_ENV if k in os.environ},
        "jax": jax.__version__,
        "plugins": sorted(p for p, names in PLUGINS.items() if any(map(_installed, names))),
    }


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def describe(device: Mapping[str, Any]) -> str:
    """`cuda:NVIDIA H100 80GB HBM3 x1`."""
    return f"{device['platform']}:{device['device_kind']} x{device['local_device_count']}"


def check(device: Mapping[str, Any], platforms: str | None) -> None:
    """ValueError (one line) when the probed device is not what was asked for: a platform
    outside `platforms` (the `--jax_platforms` value, comma-separated), or, with none asked,
    the CPU where an accelerator plugin is installed (jax's silent fallback)."""
    got = device["platform"]
    asked = [p.strip() for p in (platforms or "").split(",") if p.strip()]
    if asked and got not in asked and not (got == "gpu" and "cuda" in asked):
        raise ValueError(f"--jax_platforms={platforms}: the cells' process runs on {got}")
    if not asked and got == "cpu" and device.get("plugins"):
        plugins = ", ".join(device["plugins"])
        raise ValueError(
            f"jax's {plugins} plugin is installed but the cells' process started on the CPU "
            "(the accelerator failed to start; see logs/worker.log); pass --jax_platforms=cpu "
            "to run on the CPU on purpose"
        )


def budget(device: Mapping[str, Any], cpu_bytes: float) -> float:
    """The memory a cell may use on `device`, in bytes: its `bytes_limit` where it reports one;
    `cpu_bytes` on the CPU; a ValueError on an accelerator that reports none."""
    if device.get("bytes_limit"):
        return float(device["bytes_limit"])
    if device["platform"] == "cpu":
        return float(cpu_bytes)
    allocator = device.get("allocator") or "default"
    raise ValueError(
        f"{describe(device)} reports no memory limit (allocator settings {allocator}): pass "
        "--memory_budget_gib"
    )
