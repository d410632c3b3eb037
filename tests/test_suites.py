"""Frozen suites: setups as data, fingerprints that pin the generators (docs/suites.md)."""

import json

import pytest

from hardnet import suites
from hardnet.configs import headline
from hardnet.run import fingerprint


def test_every_stored_fingerprint_matches_the_generators():
    """A generator change that alters a released suite's instances fails here: such a change
    needs a new suite version (docs/suites.md)."""
    problems = fingerprint.verify_suite(suites.load())
    assert not problems, "\n".join(problems[:20])


def test_the_stored_fingerprints_cover_every_setup_role_and_tier_seed():
    suite = suites.load()
    stored = json.loads(suite.path("fingerprints").read_text())["fingerprints"]
    seeds = {i for t in suite.tiers.values() if not t.heldout for i in t.instance_seeds}
    want = {f"{name}/{role}/{i}" for name, s in suite.setups.items() for role in s.roles
            for i in seeds}  # fmt: skip
    assert set(stored) == want


def test_a_fingerprint_changes_with_the_seed_and_the_instance_but_not_with_nothing():
    suite = suites.load()
    cells = fingerprint.role_cells(suite)
    main, null = cells[("f1_tsa", "main")], cells[("f1_tsa", "null")]
    a, b = fingerprint.fingerprints(main, 0, [0, 1])
    (again,) = fingerprint.fingerprints(main, 0, [0])
    (other_run,) = fingerprint.fingerprints(main, 1, [0])
    (null_fp,) = fingerprint.fingerprints(null, 0, [0])
    assert a == again
    assert len({a["sha256"], b["sha256"], other_run["sha256"], null_fp["sha256"]}) == 4
    assert fingerprint.compare(a, again) == []
    nudged = {**a, "floats": {k: [v + 1e-2 for v in vs] for k, vs in a["floats"].items()}}
    assert any("differs" in p for p in fingerprint.compare(a, nudged))


def test_a_released_suite_refuses_to_freeze_over_its_fingerprints():
    with pytest.raises(ValueError, match="needs a new suite version"):
        fingerprint.freeze_suite(suites.load())


def test_the_headline_config_takes_the_suites_setups():
    config = headline.get_config("cpu")
    suite = suites.load(headline.SUITE)
    for name, setup in suite.setups.items():
        assert config.instances[name].to_dict() == setup.block()


@pytest.mark.parametrize(
    "spec,match", [("nope", "unknown suite"), ("hardnet-v1:tpu", "no tier 'tpu'")]
)
def test_unknown_suites_and_tiers_name_the_choices(spec, match):
    with pytest.raises(ValueError, match=match):
        suites.parse(spec)


def test_a_tier_config_runs_every_setup_at_its_budgets():
    from hardnet.run import grid

    suite, tier = suites.parse("hardnet-v1:cpu")
    config = suites.config(suite, tier, {"mine": dict(name="poly")})
    cells = grid.plan(config).cells
    roles = sum(len(s.roles) for s in suite.setups.values() if s.name in tier.budgets)
    want = sum(len(tier.budgets[s]) * len(suite.setups[s].roles) for s in tier.budgets)
    assert len(cells) == want and roles == 18
    assert {c.instance_seeds for c in cells} == {tier.instance_seeds}
    assert {c.test_size for c in cells} == {tier.test_size}
