"""hardnet installed as users install it: a wheel built from the checkout, installed into a fresh
venv, runs a shipped config by its short name from a directory outside the checkout.

The fresh venv takes hardnet from the wheel only; its dependencies come from this environment's
site-packages (a `.pth` line after its own), since CI installs nothing from the network here."""

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A safety net, not a measurement (the build, the install and the smoke run take about a minute).
TIMEOUT = 1800


def _run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)
    assert done.returncode == 0, (cmd, done.stdout[-2000:], done.stderr[-2000:])
    return done


@pytest.mark.slow
def test_a_wheel_runs_the_smoke_config_by_name_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "-w", str(wheels), str(ROOT)])  # fmt: skip
    (wheel,) = wheels.glob("hardnet-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    site = Path(site.stdout.strip())
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          "--target", str(site), str(wheel)])  # fmt: skip
    # after the venv's own site-packages: the dependencies, not this checkout's editable hardnet
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = _run([str(python), "-c", "import hardnet; print(hardnet.__file__)"], cwd=outside)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout
    bench = [str(python), "-m", "hardnet.cli.bench", "--config=smoke", "--workdir=work",
             "--report=false", "--tensorboard=false", "--jax_platforms=cpu",
             "--config.instance_seeds=1", "--config.learner_seeds=1"]  # fmt: skip
    _run(bench, cwd=outside)
    rows = [json.loads(x) for x in (outside / "work" / "results.jsonl").read_text().splitlines()]
    assert rows and not any(r["failed"] for r in rows if r["cell"]["learner"] == "oracle")
    config = json.loads((outside / "work" / "config.json").read_text())
    assert config["config"]["instances"]  # the packaged smoke config, read from the wheel
