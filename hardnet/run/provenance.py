"""Provenance of a run (`meta.json` of a workdir): package versions, the lockfile installed
from, devices, platform, python, git revision, seeds and start time."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "hardnet")


def processor() -> str:
    """The CPU's model name (/proc/cpuinfo), or what `platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(cwd: Path, *args: str) -> str | None:
    """stdout of `git ARGS` in `cwd`, or None if git is missing or fails (never raises)."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except Exception:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_revision(cwd: str | os.PathLike | None = None) -> str | None:
    """`git rev-parse HEAD` of the source tree (default: this package's directory), or None."""
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    rev = _git(cwd, "rev-parse", "HEAD")
    return rev if rev is not None and re.fullmatch(r"[0-9a-f]{40,64}", rev) else None


def _git_dirty(cwd: Path) -> bool | None:
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def _version(pkg: str) -> str | None:
    if pkg == "hardnet":
        from hardnet import __version__

        return __version__
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def _devices() -> dict[str, Any]:
    try:
        import jax

        devs = jax.devices()
        return {
            "backend": jax.default_backend(),
            "devices": [str(d) for d in devs],
            "device_kind": sorted({d.device_kind for d in devs}),
            "local_device_count": jax.local_device_count(),
            "process_index": jax.process_index(),
            "process_count": jax.process_count(),
        }
    except Exception as e:  # never let meta crash a run
        return {"devices": None, "device_error": f"{type(e).__name__}: {e}"}


def collect_meta(seeds: Any = None, probe_devices: bool = True) -> dict[str, Any]:
    """Versions of jax/jaxlib/flax/optax/numpy/hardnet, devices, platform, python, git, seeds."""
    src = Path(__file__).resolve().parent
    meta: dict[str, Any] = {
        "versions": {p: _version(p) for p in PACKAGES},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "git_revision": git_revision(src),
        "git_dirty": _git_dirty(src),
        "seeds": seeds,
        "lock": os.environ.get("HARDNET_LOCK"),  # the lockfile scripts/_env.sh installed from
        "start_time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if probe_devices:
        meta.update(_devices())
    return meta
