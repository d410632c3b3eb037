"""benchmarks/perf.py at tiny sizes: the JSON and Markdown structure, positive finite ratios,
and the NumPy peers computing the same teachers. No timing assertions."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

# A safety net, not a measurement: what it waits for took at most 90 s on one core of a
# 2-core AMD EPYC (taskset -c 0); the limit sits over 10× above that.
RUN_TIMEOUT = 1800
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import perf_numpy_teachers  # noqa: E402

import hardnet.instances as hi  # noqa: E402

ITEMS = {"1 sampling", "2 sgd ensemble", "3 kernel", "4 tensor moments", "5 brute force",
         "5 gf2", "6 memory", "7 online training"}  # fmt: skip


def test_tiny_run_writes_json_and_markdown(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "perf.py"), "--tiny", f"--out={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    payload = json.loads((tmp_path / "perf.json").read_text())
    head, rows = payload["header"], payload["rows"]
    assert head["mode"] == "tiny" and head["cpu_count"] >= 1 and head["device"].startswith("cpu")
    versions = {"jax", "jaxlib", "numpy", "torch", "scikit-learn", "galois", "gpytorch"}
    assert set(head["versions"]) == versions
    assert {r["item"] for r in rows} == ITEMS
    for r in rows:
        assert math.isfinite(r["ours"]), r
        if r["ratio"] is not None:
            assert math.isfinite(r["ratio"]) and r["ratio"] > 0, r
        if r["peer_value"] is not None:
            assert math.isfinite(r["peer_value"]) and r["peer_value"] > 0, r
        assert r["met"] in (None, True, False)
        assert (r["met"] is None) or r["target"], r  # a verdict needs a target
    # every peer named by the issue whose package is installed (the `bench` extra: torch,
    # scikit-learn, galois; CI installs only `test`) has a number
    peers = {r["peer"] for r in rows if r["peer_value"] is not None}
    named = {"jax.random.normal": "jax", "NumPy teacher": "numpy", "PyTorch": "torch",
             "sklearn": "sklearn", "galois": "galois", "GPyTorch": "gpytorch",
             "limit": "jax", "bit-packed NumPy": "numpy"}  # fmt: skip
    for peer, module in named.items():
        if importlib.util.find_spec(module) is not None:
            assert any(p.startswith(peer) for p in peers), (peer, peers)
    md = (tmp_path / "perf.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert table[0].split("|")[1:4] == [" item ", " measurement ", " ratio "]  # ratios first
    assert len(table) == 2 + len(rows)
    assert "device: cpu" in md and "jaxlib" in md and "CPUs" in md
    assert out.stdout.count("| item |") == 1  # the table is printed


@pytest.mark.parametrize(
    "family,kwargs,apply",
    [
        ("prg_gauss3_smoothed", dict(n=16, k=3, predicate="xor", tau=0.0), "f3_apply"),
        ("prg_gauss3_smoothed", dict(n=128, k=12, predicate="xor_maj(5,7)", tau=0.0), "f3_apply"),
        ("prg_gauss3_dv21", dict(n=16, k=3, predicate="xor"), "f2_apply"),
        ("prg_gauss3_dv21", dict(n=64, k=5, predicate="tsa"), "f2_apply"),
    ],
)
def test_numpy_teachers_equal_the_jax_teachers(family, kwargs, apply):
    """Same parameters and x, τ = 0: the NumPy peer computes the same labels."""
    inst = hi.make(family, **kwargs)
    params = inst.init(jax.random.key(0))
    x, y, meta = inst.sample(params, jax.random.key(1), 3000)
    np_params = jax.tree.map(np.asarray, params)
    y_np = getattr(perf_numpy_teachers, apply)(inst, np_params, np.asarray(x))
    np.testing.assert_allclose(y_np, np.asarray(y), atol=1e-4)
    assert np.asarray(meta["informative"]).any()


def test_numpy_f3_noise_has_the_scale_of_the_jax_noise():
    """With τ > 0 the NumPy F3 (its own key derivation) moves informative labels off the planted
    bit as much as the JAX teacher does: same spread within 20%, nonzero."""
    inst = hi.make("prg_gauss3_smoothed", n=16, k=3, predicate="xor", tau=1e-4)
    params = inst.init(jax.random.key(0))
    x, y, meta = inst.sample(params, jax.random.key(1), 3000)
    y_np = perf_numpy_teachers.f3_apply(inst, jax.tree.map(np.asarray, params), np.asarray(x))
    inf = np.asarray(meta["informative"])
    planted = np.asarray(meta["planted_bit"])[inf]
    spread_np, spread_jax = np.std(y_np[inf] - planted), np.std(np.asarray(y)[inf] - planted)
    assert spread_jax > 0 and 0.8 < spread_np / spread_jax < 1.25


def test_verdicts_are_void_when_the_machine_was_not_quiet():
    import perf_common

    row = perf_common.Row("1 x", "m", ratio=2.0, target=">= 1.5", met=True, ours=1.0, unit="s")
    quiet = {"cpu_count": 2, "load_start": 0.3, "others_cores": 0.05}
    assert perf_common.void_if_loaded(quiet, [row])[0].met is True
    assert quiet["verdicts"] == "valid"
    for start, others in ((2.6, 0.0), (0.3, 0.9), (None, 0.0), (0.3, None)):
        head = {"cpu_count": 2, "load_start": start, "others_cores": others}
        (void,) = perf_common.void_if_loaded(head, [row])
        assert void.met is None and "verdict void" in void.note and void.ratio == 2.0
        assert head["verdicts"].startswith("void")
        assert "**verdicts void" in perf_common.markdown({**_HEAD, **head}, [void])
    # others' cores: the machine's busy time minus this process's, per second of wall time
    assert perf_common.others_cores((10.0, 1.0), (14.0, 4.0), 2.0) == 0.5
    assert perf_common.others_cores((10.0, 1.0), (12.0, 4.0), 2.0) == 0.0
    clock = perf_common.cpu_clock()
    assert clock is None or (clock[0] > 0 and clock[1] > 0)


_HEAD = {"device": "cpu", "cpu": "x", "python": "3", "versions": {}, "mode": "tiny",
         "date": "d", "git": "g", "load_end": 0.2}  # fmt: skip
