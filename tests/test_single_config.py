"""hardnet/configs/single.py: one family × one learner from the `--config=...:ARG` argument; its
grid expands to exactly the cells asked for, with the keywords parsed, and bad arguments are
ValueErrors naming the key."""

import subprocess
import sys
from pathlib import Path

import pytest

from hardnet.configs import single
from hardnet.run import grid

SINGLE = Path(__file__).parents[1] / "hardnet" / "configs" / "single.py"


def test_split_pairs_keeps_commas_inside_parentheses():
    pairs = single.split_pairs("family=prg_gauss3_smoothed,predicate=xor_maj(5,7),n=128")
    assert pairs == [("family", "prg_gauss3_smoothed"), ("predicate", "xor_maj(5,7)"), ("n", "128")]


def test_one_family_one_learner_is_one_cell():
    cells = grid.expand(single.get_config("family=easy_depth2,learner=sgd"))
    assert len(cells) == 1
    (cell,) = cells
    assert (cell.family, cell.learner, cell.budget) == ("easy_depth2", "sgd", single.DEFAULT_BUDGET)
    assert cell.variant == "main" and cell.learner_kwargs == {}
    assert len(cell.instance_seeds) == 2 and len(cell.learner_seeds) == 2


def test_instance_and_learner_keywords_and_budgets_are_parsed():
    arg = "family=easy_depth2,d=8,m=4,learner=sgd,learner.width=16,learner.optimizer=adam"
    arg += ",budget=500/64"
    cells = grid.expand(single.get_config(arg))
    assert [c.budget for c in cells] == [64, 500]
    assert cells[0].instance_kwargs["d"] == 8 and cells[0].instance_kwargs["m"] == 4
    assert cells[0].learner_kwargs == {"width": 16, "optimizer": "adam"}


def test_prg_family_with_a_parenthesized_predicate_and_its_null_control():
    config = single.get_config("family=prg_gauss3_smoothed,predicate=xor_maj(5,7),learner=poly")
    (cell,) = grid.expand(config)
    assert cell.instance_kwargs["predicate"] == "xor_maj(5,7)" and cell.instance_kwargs["k"] == 12
    config.instances.prg_gauss3_smoothed.null_control = True  # what --config.instances... sets
    variants = sorted(c.variant for c in grid.expand(config))
    assert variants == ["main", "null"]


@pytest.mark.parametrize(
    "arg,match",
    [
        (None, "needs an argument"),
        ("learner=sgd", "family must be one of"),
        ("family=nope,learner=sgd", "family must be one of"),
        ("family=easy_depth2", "learner must be one of"),
        ("family=easy_depth2,learner=nope", "learner must be one of"),
        ("family=easy_depth2,learner=sgd,oops", "expected key=value"),
        ("family=easy_depth2,learner=sgd,budget=0", "budget must be positive"),
        ("family=easy_depth2,learner=sgd,budget=many", "budget must be positive"),
        ("family=easy_depth2,learner=oracle,learner.params=1", "supplied by the runner"),
    ],
)
def test_bad_arguments_raise_value_error(arg, match):
    with pytest.raises(ValueError, match=match):
        single.get_config(arg)


def test_bad_family_keyword_is_caught_by_the_grid_before_compiling():
    with pytest.raises(ValueError, match=r"config\.instances\.easy_depth2.*\bd\b"):
        grid.expand(single.get_config("family=easy_depth2,d=0,learner=poly"))


def test_cli_rejects_a_bad_argument_with_exit_2_and_the_rule():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardnet.cli.bench",
            "--workdir=/nonexistent/never",
            f"--config={SINGLE}:family=nope,learner=sgd",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "family must be one of" in done.stderr
