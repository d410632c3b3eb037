"""hardnet.run.grid: expand / validate / shard on the headline and smoke configs."""

import copy

import pytest

from hardnet import instances
from hardnet.configs import headline, smoke
from hardnet.run import grid, tuning

CONFIGS = {
    "smoke": smoke.get_config,
    "cpu": lambda: headline.get_config("cpu"),
    "gpu": lambda: headline.get_config("gpu"),
}


@pytest.fixture(scope="module")
def plans():
    return {name: grid.plan(make()) for name, make in CONFIGS.items()}


@pytest.mark.parametrize("name", ["smoke", "cpu"])
def test_every_cell_makes_its_instance_and_learner(plans, name):
    for cell in plans[name].cells:
        inst = cell.make_instance()
        assert dict(inst.config) == dict(cell.instance_kwargs)  # validated config round-trips
        if cell.learner == "oracle":
            continue  # needs the planted params: the runner's job
        learner = cell.make_learner(inst)
        assert learner.name == cell.learner
        assert cell.budget >= 1 and cell.test_size >= 1
        assert cell.instance_seeds and cell.learner_seeds


def test_ids_unique_stable_and_filesystem_safe(plans):
    for name, make in CONFIGS.items():
        ids = [c.cell_id for c in plans[name].cells]
        assert len(ids) == len(set(ids)), name
        assert ids == [c.cell_id for c in grid.expand(make())], name  # same config, same ids
        for cell_id in ids:
            assert all(ch.isalnum() or ch in "._-" for ch in cell_id), cell_id
            assert len(cell_id) <= 120


def test_changed_value_changes_ids():
    base = {c.cell_id for c in grid.expand(smoke.get_config())}
    for change in (
        lambda c: setattr(c.learners.sgd.kwargs, "width", 9),
        lambda c: setattr(c, "budgets", [65]),
        lambda c: setattr(c, "test_size", 257),
        lambda c: setattr(c, "instance_seeds", 3),
        lambda c: setattr(c.instances.f1, "sweep", {"n": [16]}),
    ):
        config = smoke.get_config()
        change(config)
        assert {c.cell_id for c in grid.expand(config)} != base


def test_only_affected_ids_change():
    config = smoke.get_config()
    config.learners.sgd.kwargs.width = 9
    before = {c.cell_id: c for c in grid.expand(smoke.get_config())}
    after = {c.cell_id: c for c in grid.expand(config)}
    assert {c.learner for i, c in before.items() if i not in after} == {"sgd"}


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu"])
def test_controls_for_prg_blocks(plans, name):
    config = CONFIGS[name]()
    cells = _with_frozen(plans[name])
    for bname, block in config.instances.items():
        variants = {c.variant for c in cells if c.block == bname}
        if instances.kind(block.family) == "prg":
            assert "main" in variants
            if block.get("null_control"):
                assert "null" in variants, bname
                nulls = [c for c in cells if c.block == bname and c.variant == "null"]
                assert all(c.instance_kwargs["null"] for c in nulls)
            if block.get("dictator_control"):
                assert "dictator" in variants, bname
                for c in cells:
                    if c.block == bname and c.variant == "dictator":
                        assert c.instance_kwargs["predicate"] == "dictator"
                        main = next(m for m in cells if m.block == bname and m.variant == "main")
                        assert c.instance_kwargs["k"] == main.instance_kwargs["k"]
        else:
            assert variants == {"main"}


def _with_frozen(plan):
    """The plan's cells and the frozen runs of its tuned entries (every trial scoring 0.5)."""
    frozen, waiting = tuning.frozen_cells(plan.pending, lambda cid: [{"acc01": 0.5}])
    assert not waiting
    return list(plan.cells) + frozen


def test_headline_cpu_covers_the_expected_picture(plans):
    cells = _with_frozen(plans["cpu"])
    trials = [c for c in cells if (c.tuning or {}).get("split") == "validation"]
    prg = [c for c in trials if instances.kind(c.family) == "prg"]
    assert prg and {c.variant for c in prg} == {"dictator"}
    # F5 under both input distributions, tensor under Gaussian inputs only (its moments)
    f5 = {(c.learner, c.instance_kwargs["inputs"]) for c in cells if c.family == "natural_depth2"}
    for learner in ("sgd", "kernel", "poly", "oracle", "trivial"):
        assert {(learner, "gaussian"), (learner, "clauses")} <= f5
    assert ("tensor", "gaussian") in f5 and ("tensor", "clauses") not in f5
    for learner in ("sgd", "tensor", "kernel", "poly"):
        fams = {(c.family, c.variant) for c in cells if c.learner == learner}
        for fam in ("prg_gauss3_smoothed", "prg_depth2_smoothed"):
            if learner != "tensor":  # tensor: F6 only on CPU (the config docstring says why)
                assert {(fam, v) for v in ("main", "null", "dictator")} <= fams
        assert ("easy_depth2", "main") in fams
    brute = [c for c in cells if c.learner == "brute_force"]
    assert {c.instance_kwargs["n"] for c in brute} == {16}
    assert {"prg_gauss3_smoothed", "prg_depth2_smoothed"} <= {c.family for c in brute}
    hard_cpu = {
        (c.family, c.variant)
        for c in cells
        if c.learner == "sgd"
        and c.block in ("f3_hard", "f4_hard")
        and c.instance_kwargs["n"] == 128
    }
    for fam in ("prg_gauss3_smoothed", "prg_depth2_smoothed"):
        assert {(fam, v) for v in ("main", "null", "dictator")} <= hard_cpu
    # F3's hard dictator control is learned (calibration-free) by a finite set of 1e6 rows
    f3_hard = [c for c in cells if c.learner == "sgd" and c.block == "f3_hard"]
    assert f3_hard and all(
        c.learner_kwargs["regime"] == "finite" and c.budget == 1_000_000 for c in f3_hard
    )
    f3_dictator = [
        c.budget for c in cells
        if c.learner == "sgd" and c.family == "prg_gauss3_smoothed" and c.variant == "dictator"
    ]  # fmt: skip
    assert max(f3_dictator) >= 1_000_000  # where sgd learns the control (acc01 0.91)
    gf2_f1 = [c.budget for c in cells if c.learner == "gf2" and c.block == "f1_tsa"]
    assert min(gf2_f1) < 16**2 / 2 < max(gf2_f1)
    assert any(c.learner == "gf2" and c.instance_kwargs["predicate"] == "xor" for c in cells)
    hard = [c for c in plans["gpu"].cells if c.instance_kwargs.get("predicate") == "xor_maj(5,7)"]
    assert {c.instance_kwargs["n"] for c in hard} == {128, 256}
    tensor_gpu = {(c.family, c.variant) for c in plans["gpu"].cells if c.learner == "tensor"}
    assert {("prg_gauss3_smoothed", v) for v in ("main", "null", "dictator")} <= tensor_gpu


def test_control_limits_are_skips_not_errors(plans):
    skips = plans["gpu"].skipped
    assert skips and all(s.learner == "brute_force" for s in skips)
    assert all(s.instance_kwargs["n"] > 24 and "max_n" in s.reason for s in skips)
    assert {s.learner for s in plans["smoke"].skipped} == {"brute_force", "gf2"}  # F6: no code


def _bad(mutate):
    config = copy.deepcopy(smoke.get_config())
    mutate(config)
    return config


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda c: setattr(c.instances.f6, "family", "nope"), "config.instances.f6.family"),
        (lambda c: c.learners.update({"nope": dict()}), "unknown learner 'nope'"),
        (lambda c: setattr(c, "budgets", [-5]), "config.budgets[0]"),
        (lambda c: setattr(c, "budgets", [0]), "config.budgets[0]"),
        (lambda c: setattr(c, "budgets", []), "config.budgets"),
        (lambda c: setattr(c, "instances", {}), "empty grid"),
        (lambda c: setattr(c, "learners", {}), "empty grid"),
        (lambda c: setattr(c, "instance_seeds", 0), "config.instance_seeds"),
        (lambda c: setattr(c, "learner_seeds", -2), "config.learner_seeds"),
        (lambda c: setattr(c.learners.sgd, "budgets", [-1]), "config.learners.sgd.budgets[0]"),
        (lambda c: setattr(c.learners.sgd.kwargs, "widht", 3), "widht"),
        (lambda c: setattr(c.learners.sgd.kwargs, "width", -3), "width"),
        (lambda c: setattr(c.learners.gf2, "kwargs", {"max_free": -1}), "max_free"),
        (lambda c: setattr(c.instances.f1, "sweep", {"n": [3]}), "config.instances.f1"),
        (lambda c: setattr(c.instances.f1.fixed, "predicate", "maj"), "predicate"),
        (lambda c: setattr(c.instances.f6, "null_control", True), "null_control"),
        (lambda c: setattr(c.learners.sgd, "blocks", ["f9"]), "unknown block 'f9'"),
        (lambda c: c.instances.f6.update({"bogus": 1}), "bogus"),
    ],
)
def test_bad_config_one_line_naming_it(mutate, needle):
    with pytest.raises(ValueError) as err:
        grid.validate(_bad(mutate))
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_plain_dict_config_and_seed_lists():
    config = smoke.get_config().to_dict()
    config["instance_seeds"] = [3, 7]
    cells = grid.expand(config)
    assert all(c.instance_seeds == (3, 7) for c in cells)
    config["learner_seeds"] = [1, 1]
    with pytest.raises(ValueError, match=r"config\.learner_seeds: seeds must be distinct"):
        grid.validate(config)


def test_all_skipped_is_an_empty_grid():
    config = smoke.get_config()
    config.learners = {"brute_force": dict()}
    config.instances = {"f6": dict(family="easy_depth2", fixed=dict(d=4, m=2))}
    with pytest.raises(ValueError, match="empty grid"):
        grid.validate(config)


@pytest.mark.parametrize("num", [1, 2, 3, 7])
def test_shards_partition_the_cells(plans, num):
    cells = list(plans["cpu"].cells)
    shards = [grid.shard(cells, i, num) for i in range(num)]
    ids = [c.cell_id for s in shards for c in s]
    assert sorted(ids) == sorted(c.cell_id for c in cells)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shards == [grid.shard(cells, i, num) for i in range(num)]  # deterministic


@pytest.mark.parametrize("index, num", [(2, 2), (-1, 2), (0, 0), (1.5, 2), (True, 2)])
def test_bad_shard_raises(plans, index, num):
    with pytest.raises(ValueError, match=r"shard_index|num_shards"):
        grid.shard(plans["smoke"].cells, index, num)


def test_cell_json_roundtrip(plans):
    import json

    for cell in plans["smoke"].cells:
        row = json.loads(json.dumps(cell.to_json()))
        assert row["cell_id"] == cell.cell_id and row["instance_kwargs"] == cell.instance_kwargs


def test_headline_bad_variant():
    with pytest.raises(ValueError, match="variant"):
        headline.get_config("tpu")
