"""hardnet-bench end to end: a killed run restarted gives the same rows as an uninterrupted one
(SIGKILL and SIGINT), shards give the same rows as one run, bad values are one line."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny_rows as _rows  # one reader of a workdir's rows

# A safety net, not a measurement: what it waits for took at most 32 s on one core of a
# 2-core AMD EPYC (taskset -c 0); the limit sits over 10× above that.
RUN_TIMEOUT = 1800
CONFIG = str(Path(__file__).parent / "configs" / "tiny.py")


def _cmd(workdir, *extra):
    return [sys.executable, "-m", "hardnet.cli.bench", f"--config={CONFIG}",
            f"--workdir={workdir}", "--report=false", "--jax_platforms=cpu", *extra]  # fmt: skip


def _run(workdir, *extra):
    return subprocess.run(
        _cmd(workdir, *extra), capture_output=True, text=True, timeout=RUN_TIMEOUT
    )


@pytest.fixture
def reference(tiny_reference):
    return tiny_reference  # conftest.py: one uninterrupted run per session


def test_run_writes_rows_and_tensorboard(reference):
    rows, workdir = reference
    assert len(rows) == 2 * 1 + 2 * 1 + 2 * 1 + 2 * 2  # gf2, oracle x2 instances, poly
    assert all(row["failed"] is False for row in rows if row["cell"]["learner"] == "oracle")
    assert (workdir / "config.json").exists() and (workdir / "meta.json").exists()
    assert any(p.name.startswith("events.out.tfevents") for p in (workdir / "tb").rglob("*"))
    # learning curves against samples: one run per series, the cell's point at its budget
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    poly = next(r for r in rows if r["cell"]["learner"] == "poly")
    series = list((workdir / "tb" / "by_samples").glob(f"{poly['cell']['block']}-poly-*"))
    assert len(series) == 1
    ea = EventAccumulator(str(series[0]))
    ea.Reload()
    nmse = [r["nmse"] for r in rows if r["cell"]["learner"] == "poly"]
    (point,) = ea.Scalars("nmse")
    assert point.step == 64 and point.value == pytest.approx(sum(nmse) / len(nmse), rel=1e-5)
    # a second run skips every finished cell and changes nothing
    again = _run(workdir)
    assert "4 already done" in again.stdout and _rows(workdir) == rows


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_the_same_rows(reference, tmp_path, sig):
    rows, _ = reference
    env = {**os.environ, "HARDNET_TEST_PAUSE_S": "20"}  # the run pauses after each cell
    # a child started from a non-interactive background job inherits SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler: restore the default so the signal is delivered
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    proc = subprocess.Popen(
        _cmd(tmp_path), stdout=subprocess.PIPE, text=True, env=env, preexec_fn=restore
    )
    deadline = time.time() + 240
    for line in proc.stdout:  # wait for the first finished cell, then kill mid-run
        if line.startswith("[1/4]") or time.time() > deadline:
            break
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode in (130, -signal.SIGINT)
    finished = len(list((tmp_path / "cells").glob("*.json")))
    assert 1 <= finished < 4
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{finished} already done" in done.stdout
    assert _rows(tmp_path) == rows  # nothing lost, nothing duplicated


def test_two_shards_equal_one_run(reference, tmp_path):
    rows, _ = reference
    for index in (1, 0):
        done = _run(tmp_path, "--num_shards=2", f"--shard_index={index}")
        assert done.returncode == 0, done.stderr
    assert _rows(tmp_path) == rows


@pytest.mark.parametrize(
    "extra,match",
    [
        (("--config.budgets=(-5,)",), "budgets"),
        (("--num_shards=2", "--shard_index=2"), "shard_index"),
        (("--seed=-1",), "seed"),
        (("--config=hardnet/configs/headline.py:foo",), "variant must be one of cpu, gpu"),
        (("--config.instances.f1.family=nope",), "family"),
        (("--config.learners.gf2.name=nope",), "has no field 'name'"),
        (("--config=/nonexistent/config.py",), "--config /nonexistent/config.py: cannot load it"),
        (("--cell_timeout=-1",), "cell_timeout"),
    ],
)
def test_bad_values_exit_with_one_line(tmp_path, extra, match):
    done = _run(tmp_path, *extra)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and match in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_workdir_that_is_a_file_is_one_line(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("")
    done = _run(path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        == f"hardnet-bench: error: --workdir {path} exists and is not a directory"
    )


_FULL_DISK = """
import errno, os, sys
from hardnet.run import results
code = int(sys.argv.pop(1))
def full(path, text):
    raise OSError(code, os.strerror(code), str(path))
results.atomic_write_text = full
from hardnet.cli import bench
bench.run()
"""


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_unwritable_workdir_is_one_line_and_exit_2(tmp_path, code):
    """A full or read-only file system (simulated: the tests may run as root, which ignores
    permissions) ends the run with one line and exit code 2."""
    cmd = [sys.executable, "-c", _FULL_DISK, str(code), *_cmd(tmp_path)[3:]]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hardnet-bench: error: cannot write the workdir")
    assert os.strerror(code) in err[0]


def test_dry_run_writes_the_plan_and_runs_nothing(tmp_path):
    done = _run(tmp_path, "--dry_run")
    assert done.returncode == 0, done.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["totals"]["cells"] == 4 and len(plan["cells"]) == 4
    assert {
        "cell_id",
        "family",
        "learner",
        "budget",
        "num_runs",
        "est_peak_bytes",
        "est_flops",
    } <= set(plan["cells"][0])
    assert not (tmp_path / "cells").exists() and "dry run" in done.stdout


def test_a_cell_over_the_memory_budget_is_refused_before_running(tmp_path):
    done = _run(tmp_path, "--memory_budget_gib=0.001")
    assert done.returncode == 2 and not (tmp_path / "cells").exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "over the memory budget of 0.001 GiB" in lines[0], lines
