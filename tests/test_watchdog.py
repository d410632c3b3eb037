"""The watchdog and chaos: a hung or crashing cell becomes failed rows and the run goes on; a run
SIGKILLed at random moments and resumed ends with exactly the rows of an uninterrupted run; the
worker never outlives its driver."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import tiny_rows as _rows  # one reader of a workdir's rows

CONFIG = str(Path(__file__).parent / "configs" / "tiny.py")
# The hung cell blocks forever (worker._test_faults waits on an Event nobody sets), so the cap
# decides only how long the test waits for it; the healthy cells must never reach it. Measured
# on one core of a 2-core AMD EPYC (taskset -c 0): the slowest healthy cell, gf2, 4.5 s of
# compilation, plus about 5 s to start a fresh worker; the cap is 12× that.
CELL_TIMEOUT = 120
# Safety nets for whole runs of tiny.py (measured: 22 s on one core without a hang, about
# 150 s with the hung cell's cap): over 10× what they wait for.
RUN_TIMEOUT = 1800


def _cmd(workdir, *extra):
    return [sys.executable, "-m", "hardnet.cli.bench", f"--config={CONFIG}",
            f"--workdir={workdir}", "--report=false", "--tensorboard=false",
            "--jax_platforms=cpu", *extra]  # fmt: skip


def _workers_with(mark: str) -> list[int]:
    """Pids of live processes whose environment holds HARDNET_CHAOS_MARK=mark."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"HARDNET_CHAOS_MARK={mark}".encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture
def reference(tiny_reference):
    return tiny_reference[0]  # conftest.py: one uninterrupted run per session


def test_hung_and_crashed_cells_fail_and_the_run_goes_on(reference, tmp_path):
    env = {
        **os.environ,
        "HARDNET_TEST_HANG_CELL": "f1.n8-oracle",
        "HARDNET_TEST_CRASH_CELL": "f6-poly",
    }
    done = subprocess.run(
        _cmd(tmp_path, f"--cell_timeout={CELL_TIMEOUT}"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(tmp_path)
    assert len(rows) == len(reference)
    for row, ref in zip(rows, reference, strict=True):
        assert row["cell_id"] == ref["cell_id"]
        if "f1.n8-oracle" in row["cell_id"]:
            assert row["failed"] and row["fail_reason"].startswith(
                f"timeout: the cell ran past {CELL_TIMEOUT} s"
            )
        elif "f6-poly" in row["cell_id"]:
            assert row["failed"] and row["fail_reason"].startswith(
                "worker crashed (killed by SIGSEGV"
            )
        else:
            assert row == ref  # every other cell is complete and unchanged
    (stacks,) = (tmp_path / "stacks").glob("*.txt")  # only the hung cell leaves a dump
    assert "f1.n8-oracle" in stacks.name and "_test_faults" in stacks.read_text()
    assert (
        "Fatal Python error: Segmentation fault" in (tmp_path / "logs" / "worker.log").read_text()
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_loses_and_doubles_nothing(reference, tmp_path):
    rng = random.Random(0)
    mark = uuid.uuid4().hex
    env = {**os.environ, "HARDNET_CHAOS_MARK": mark}
    kills = 0
    while kills < 5:
        proc = subprocess.Popen(
            _cmd(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        time.sleep(rng.uniform(1.0, 9.0))
        if proc.poll() is not None:  # finished before the kill: start over in a fresh workdir
            assert proc.returncode == 0, proc.stderr.read()
            assert _rows(tmp_path) == reference
            shutil.rmtree(tmp_path)
            continue
        proc.kill()
        proc.wait()
        kills += 1
        deadline = time.time() + 10
        while _workers_with(mark) and time.time() < deadline:  # the worker dies with its driver
            time.sleep(0.2)
        assert not _workers_with(mark), "a worker outlived its SIGKILLed driver"
        for cell in (tmp_path / "cells").glob("*.json"):  # what is on disk is always whole
            assert json.loads(cell.read_text())["rows"]
    done = subprocess.run(
        _cmd(tmp_path), capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env
    )
    assert done.returncode == 0, done.stderr
    assert _rows(tmp_path) == reference  # identical: nothing lost, nothing doubled


def test_a_damaged_cell_file_is_recomputed(reference, tmp_path):
    done = subprocess.run(_cmd(tmp_path), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr
    cells = sorted((tmp_path / "cells").glob("*.json"))
    cells[0].write_text(cells[0].read_text()[:-40])  # truncated
    text = cells[1].read_text()
    cells[1].write_text(text.replace('"learner_seed":0', '"learner_seed":7', 1))  # parses, wrong
    again = subprocess.run(_cmd(tmp_path), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert again.returncode == 0, again.stderr
    assert "2 already done" in again.stdout and again.stderr.count("is damaged") == 2
    assert _rows(tmp_path) == reference
    assert len(list((tmp_path / "cells").glob("*.corrupt"))) == 2


def test_a_second_run_on_the_same_workdir_stops_with_a_lock_message(tmp_path):
    # the first run holds the lock far longer than the second needs to start (it is killed at the
    # end), so a slow or loaded machine cannot let the first run finish before the second asks
    env = {**os.environ, "HARDNET_TEST_PAUSE_S": str(RUN_TIMEOUT)}
    first = subprocess.Popen(_cmd(tmp_path), stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in first.stdout:
            if "already done" in line:  # the first run holds the lock from here on
                break
        second = subprocess.run(_cmd(tmp_path), capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "is in use by another run of shard 0/1" in lines[0], lines
        assert f"pid {first.pid}" in lines[0]
        shard = subprocess.run(_cmd(tmp_path, "--num_shards=2", "--shard_index=1"),
                               capture_output=True, text=True, timeout=RUN_TIMEOUT)  # fmt: skip
        assert shard.returncode == 0, shard.stderr  # another shard cooperates
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
