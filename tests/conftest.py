"""Shared pytest setup: absl flags usable without app.run, partitionable threefry, and the CPU.

Tests run on the CPU (`JAX_PLATFORMS=cpu`, inherited by the workers they start), so that
`pytest -n N` on a GPU machine does not start one process per core that each preallocate 75%
of the GPU, and tests that read a lowered program see the CPU's. Tests marked `gpu` are the
exception: they run only when asked for (`pytest -m gpu`), on the accelerator, with
preallocation off, and skip where jax sees no GPU; `HARDNET_GPU_TEST_PLATFORM=cpu` runs them on
the CPU instead (`scripts/gpu-check --cpu`).
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import pytest
from absl import flags


def _gpu_run(config) -> bool:
    return "gpu" in (config.getoption("-m") or "")


def _gpu_platform() -> str:
    return os.environ.get("HARDNET_GPU_TEST_PLATFORM", "gpu")


CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"


def _share_compilations(config) -> None:
    """One persistent compilation cache for the session: the xdist workers, the CLIs the tests
    start and their cell workers compile the same learners again and again. The controller makes
    the directory (its environment passes to the workers) and removes it at the end; a directory
    named by the caller is used as it is and kept."""
    if CACHE_ENV not in os.environ:
        os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="hardnet-jax-cache-")
        config._hardnet_cache_dir = os.environ[CACHE_ENV]
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_ENV])
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
    )


def pytest_unconfigure(config):
    cache_dir = getattr(config, "_hardnet_cache_dir", None)
    if cache_dir:
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_configure(config):
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    jax.config.update("jax_threefry_partitionable", True)
    _share_compilations(config)
    if _gpu_run(config) and _gpu_platform() != "cpu":
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    else:
        os.environ["JAX_PLATFORMS"] = "cpu"
        jax.config.update("jax_platforms", "cpu")


def pytest_collection_modifyitems(session, config, items):
    """Tests marked `slow` first: under pytest-xdist the long ones (the :gpu rehearsal, the chaos
    run) then overlap the many short ones instead of running alone at the end. Tests marked `gpu`
    skip unless asked for and a GPU is visible."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    reason = None
    if not _gpu_run(config):
        reason = "a gpu test: run with -m gpu"
    elif _gpu_platform() != "cpu" and jax.default_backend() != "gpu":
        reason = f"no GPU visible to jax (backend {jax.default_backend()})"
    if reason:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))


TINY_CONFIG = Path(__file__).parent / "configs" / "tiny.py"
TIMING = ("compile_s", "run_s")
# A safety net, not a measurement: an uninterrupted run of tiny.py took at most 35 s on one core
# of a 2-core AMD EPYC (taskset -c 0); the limit sits over 10× above that.
TINY_RUN_TIMEOUT = 1800


def tiny_rows(workdir) -> list[dict]:
    """The rows of a workdir's `results.jsonl`, without their timings."""
    lines = (Path(workdir) / "results.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory, worker_id):
    """`(rows, workdir)` of one uninterrupted `hardnet-bench` run of `tests/configs/tiny.py`
    (TensorBoard on, no report): the reference that the resume, shard, chaos, watchdog and Ray
    tests compare with. One run per session, shared by the xdist workers: the first to ask
    runs it under a file lock, the others read its rows."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent  # the session's, shared by workers
    workdir = root / "tiny-reference"
    with open(root / "tiny-reference.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "tiny-reference.done").exists():
            shutil.rmtree(workdir, ignore_errors=True)
            cmd = [sys.executable, "-m", "hardnet.cli.bench", f"--config={TINY_CONFIG}",
                   f"--workdir={workdir}", "--report=false", "--jax_platforms=cpu"]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TINY_RUN_TIMEOUT)
            assert done.returncode == 0, done.stderr[-2000:]
            assert "[4/4]" in done.stdout
            (root / "tiny-reference.done").write_text("")
    return tiny_rows(workdir), workdir
