"""hardnet-sample: the .npz it writes, its determinism, and one-line errors on bad flags."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import hardnet
from hardnet.cli import sample as cli
from hardnet.instances import make

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ["--family=prg_boolean", "--param", "n=8", "--seed=3", "--num=10", "--chunk=4"]


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "hardnet.cli.sample", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The CLI run end to end once, as a user would."""
    tmp = tmp_path_factory.mktemp("cli")
    out = tmp / "sub" / "data.npz"
    result = _cli(*FLAGS, f"--output={out}", cwd=tmp)
    assert result.returncode == 0, result.stderr
    assert "wrote 10 rows" in result.stdout
    assert os.listdir(out.parent) == ["data.npz"]  # no temporary files left behind
    with np.load(out) as data:
        return dict(data)


def test_npz_contents(written):
    inst = make("prg_boolean", n=8)
    assert written["x"].shape == (10, inst.input_dim)
    assert written["y"].shape == (10,)
    params = inst.init(jax.random.key(3))
    x, y, meta = inst.sample(params, jax.random.key(4), 10)  # data_seed defaults to seed + 1
    np.testing.assert_array_equal(written["x"], x)
    np.testing.assert_array_equal(written["y"], y)
    for name, value in meta.items():
        np.testing.assert_array_equal(written[f"meta_{name}"], value)
    for name, value in params.items():
        np.testing.assert_array_equal(written[f"param_{name}"], value)
    assert str(written["family"]) == "prg_boolean"
    assert str(written["instance_id"]) == inst.id
    assert json.loads(str(written["config"])) == dict(inst.config)
    assert int(written["seed"]) == 3 and int(written["data_seed"]) == 4
    assert str(written["version"]) == hardnet.__version__
    # The labels are the teacher's on the written inputs, with the written params.
    loaded = {k[len("param_") :]: v for k, v in written.items() if k.startswith("param_")}
    np.testing.assert_allclose(inst.apply(loaded, written["x"]), written["y"])


def test_same_seeds_same_file(written, tmp_path):
    out = tmp_path / "again.npz"
    cli.sample_to_npz(
        "prg_boolean", {"n": 8}, seed=3, data_seed=4, num=10, chunk=3, output=str(out)
    )
    with np.load(out) as again:
        assert sorted(again.files) == sorted(written)
        for name in again.files:
            np.testing.assert_array_equal(again[name], written[name])


def test_typed_key_params_are_key_data(tmp_path):
    leaves = cli.named_leaves("param_", {"k": jax.random.key(7), "w": np.ones(2)})
    np.testing.assert_array_equal(leaves["param_k"], jax.random.key_data(jax.random.key(7)))
    assert set(leaves) == {"param_k", "param_w"}


def test_parse_params():
    got = cli.parse_params(["n=64", "predicate=xor_maj(5,7)", "tau=1e-5", "null=true", "k=none"])
    assert got == {"n": 64, "predicate": "xor_maj(5,7)", "tau": 1e-5, "null": True, "k": None}
    with pytest.raises(ValueError, match="key=value"):
        cli.parse_params(["n"])
    with pytest.raises(ValueError, match="twice"):
        cli.parse_params(["n=1", "n=2"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--family=nope", "--num=4"], "family"),
        (["--family=prg_boolean", "--param=n=1", "--num=4"], "n must be"),
        (["--family=prg_boolean", "--param=bogus=1", "--num=4"], "bogus"),
        (["--family=prg_boolean", "--param=n", "--num=4"], "param"),
        (["--family=prg_boolean", "--num=0"], "num"),
        (["--family=prg_boolean", "--num=4", "--seed=-1"], "seed"),
    ],
)
def test_bad_flags_one_line(args, named, tmp_path):
    out = tmp_path / "bad.npz"
    result = _cli(*args, f"--output={out}", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()


def test_bad_output_paths_are_one_line(tmp_path):
    """A directory, a path under a file and an unwritable directory: one line, exit 2, no file,
    before anything is sampled."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    cases = [(tmp_path, "is a directory"), (blocker / "out.npz", "is not a directory")]
    if not os.access(locked, os.W_OK):  # root writes anywhere
        cases.append((locked / "out.npz", "cannot write"))
    for output, named in cases:
        result = _cli("--family=easy_depth2", "--num=4", f"--output={output}", cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert named in lines[0] and "Traceback" not in result.stderr
    with pytest.raises(ValueError, match="is a directory"):
        cli.check_output(str(tmp_path))
