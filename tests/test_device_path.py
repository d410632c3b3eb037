"""Where cells run (hardnet/run/probe.py): the driver plans on the CPU and never takes an
accelerator, the workers report their device, a platform that is not there is one line and exit
2, rows carry the worker's backend, and the learners that need float32 accuracy trace their
programs at `highest` matmul precision."""

import importlib.util
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from hardnet import instances, learners
from hardnet.run import probe, runner

# A safety net, not a measurement (a smoke run takes about 30 s on 2 cores).
RUN_TIMEOUT = 1800
CONFIG = str(Path(__file__).parent / "configs" / "tiny.py")
CPU = {"platform": "cpu", "device_kind": "cpu", "local_device_count": 1, "bytes_limit": None}


def test_check_refuses_a_platform_that_is_not_there_and_a_silent_fallback():
    probe.check(CPU, "cpu")
    probe.check(CPU, None)  # no plugin installed: the CPU is what there is
    with pytest.raises(ValueError, match=r"--jax_platforms=cuda: the cells' process runs on cpu"):
        probe.check(CPU, "cuda")
    with pytest.raises(ValueError, match=r"cuda plugin is installed .* --jax_platforms=cpu"):
        probe.check({**CPU, "plugins": ["cuda"]}, None)
    probe.check({**CPU, "platform": "gpu"}, "cuda")


def test_budget_is_the_device_limit_and_an_accelerator_without_one_must_be_told():
    assert probe.budget({**CPU, "bytes_limit": 2.0**36}, 8.0) == 2.0**36
    assert probe.budget(CPU, 8.0) == 8.0
    gpu = {**CPU, "platform": "gpu", "device_kind": "H100", "allocator": {"X": "platform"}}
    with pytest.raises(ValueError, match=r"reports no memory limit .* --memory_budget_gib"):
        probe.budget(gpu, 8.0)


def test_probe_answers_for_this_process():
    got = probe.probe()
    assert got["backend"] == jax.default_backend() == got["platform"] == "cpu"
    assert got["local_device_count"] == jax.local_device_count()


def test_a_missing_platform_is_one_line_and_exit_2_within_a_minute(tmp_path):
    cmd = [sys.executable, "-m", "hardnet.cli.bench", f"--config={CONFIG}",
           f"--workdir={tmp_path}", "--report=false", "--jax_platforms=cuda"]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cuda" in lines[0] and "Traceback" not in done.stderr, lines
    assert took < 60, took
    assert not (tmp_path / "results.jsonl").exists()


DRIVER = textwrap.dedent(
    """
    import json, sys
    from hardnet.cli import bench
    sys.argv = ["hardnet-bench", "--config=" + sys.argv[1], "--workdir=" + sys.argv[2],
                "--report=false", "--jax_platforms=cpu"]
    try:
        bench.run()
    except SystemExit as done:
        assert not done.code, done.code
    import jax
    from jax._src import xla_bridge
    print(json.dumps({"platforms": jax.config.jax_platforms,
                      "backends": sorted(xla_bridge._backends)}))
    """
)


def test_the_driver_initializes_only_the_cpu_and_rows_carry_the_workers_backend(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, CONFIG, str(tmp_path)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    driver = json.loads(done.stdout.strip().splitlines()[-1])
    assert driver == {"platforms": "cpu", "backends": ["cpu"]}
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert rows and all(r["backend"] == "cpu" and r["device_kind"] for r in rows)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["worker"]["platform"] == "cpu" and meta["backend"] == "cpu"


def _dot_precisions(lowered_text: str) -> list[str]:
    """The precision of every dot in a lowered program ("DEFAULT" where none is written)."""
    out = []
    for line in lowered_text.splitlines():
        if "dot_general" in line:
            out.append("HIGHEST" if "HIGHEST" in line else "DEFAULT")
    return out


@pytest.mark.parametrize("name", ["kernel", "poly", "tensor"])
def test_accuracy_critical_learners_lower_their_dots_at_highest_precision(name):
    """Under their declared precision every dot of the fit is HIGHEST (on an accelerator
    float32 matmuls otherwise run at TF32-class precision: correlations above 1, NaN arccos)."""
    inst = instances.make("easy_depth2", d=8, m=4)
    learner = learners.make(name)
    assert learner.matmul_precision == "highest"
    x = jnp.ones((64, inst.input_dim), jnp.float32)
    y = jnp.ones((64,), jnp.float32)

    def fit_predict(k, a, b):
        predictor = learner.fit(k, a, b, 64)
        return predictor.apply(predictor.state, a)

    fit = jax.jit(fit_predict)
    with jax.default_matmul_precision(learner.matmul_precision):
        text = fit.lower(jax.random.key(0), x, y).as_text()
    precisions = _dot_precisions(text)
    assert precisions and set(precisions) == {"HIGHEST"}, precisions
    assert set(_dot_precisions(fit.lower(jax.random.key(0), x, y).as_text())) == {"DEFAULT"}
    assert learners.make("sgd").matmul_precision is None  # training: the fast default


def test_the_runner_traces_under_the_learners_precision(monkeypatch):
    from hardnet.run import grid

    spec = importlib.util.spec_from_file_location("tiny_config", CONFIG)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    (cell,) = [c for c in grid.expand(tiny.get_config()) if c.learner == "poly"]
    seen, real = [], jax.default_matmul_precision

    def spy(value):
        seen.append(value)
        return real(value)

    monkeypatch.setattr(jax, "default_matmul_precision", spy)
    rows = runner.run_cell(cell)
    assert seen == ["highest"] and not any(r.get("failed") for r in rows)


def test_the_manual_and_the_config_state_the_gpu_plan():
    """The `:gpu` figures in the manual and the config's docstring are the plan's own numbers on one
    H100 under a 55 GiB budget (every cell fits), so they cannot go stale."""
    from hardnet.configs import headline
    from hardnet.run import estimate, grid

    h100 = {"platform": "gpu", "device_kind": "NVIDIA H100 80GB HBM3", "local_device_count": 1,
            "bytes_limit": 59.7 * 2**30}  # fmt: skip
    plan = estimate.make_plan(grid.plan(headline.get_config("gpu")).cells, 55 * 2**30, h100)
    totals = plan["totals"]
    assert totals["over_budget"] == 0
    stated = (
        f"{totals['cells']} cells ({totals['runs']:,} runs) whose largest estimate is "
        f"{totals['max_est_peak_bytes'] / 2**30:.1f} GiB on one H100"
    )
    readme = " ".join((Path(__file__).parents[1] / "docs" / "manual.md").read_text().split())
    assert f"plans {stated}" in readme
    assert f"has {stated}" in " ".join(headline.__doc__.split())
