"""Options owned by one algorithm or suite are declared by it (options.OPTION_GROUPS), keep their
Config names (CLI, make_config, old config.json) and are grouped by owner in `run --help`."""

from __future__ import annotations

import dataclasses

import pytest

from glamor_mini.baselines.discern import DiscernAgent, DiscernOptions
from glamor_mini.baselines.gcsl import GCSLOptions
from glamor_mini.config import Config
from glamor_mini.options import OPTION_GROUPS, owner_of, register_options
from glamor_mini.resolve import make_config
from glamor_mini.run import build_parser


def test_owners_declare_their_fields():
    assert owner_of("discern_beta") == "DISCERN" and owner_of("gcsl_act") == "GCSL"
    assert owner_of("game") == "Atari" and owner_of("task") == "DM Control"
    assert owner_of("env") == "MiniGrid" and owner_of("layout") == "grid world"
    assert owner_of("lr") is None and owner_of("seed") is None
    discern = {f"discern_{f.name}" for f in dataclasses.fields(DiscernOptions)}
    assert discern == {f.name for f in dataclasses.fields(Config) if f.name.startswith("discern_")}
    assert set(OPTION_GROUPS["DISCERN"].fields) == discern


def test_options_read_the_same_config_names():
    cfg = make_config("debug", algo="discern", discern_beta=2.5, discern_n_step=3)
    opts = DiscernOptions.from_config(cfg)
    assert opts.beta == 2.5 and opts.n_step == 3
    assert GCSLOptions.from_config(make_config("debug", gcsl_act="sample")).act == "sample"
    # a config.json of an older run: the same flat names load
    old = Config.from_dict({**cfg.to_dict(), "discern_beta": 4.0})
    assert DiscernOptions.from_config(old).beta == 4.0
    assert DiscernAgent.__init__.__code__.co_names.count("discern_beta") == 0


def test_help_groups_options_by_owner_and_the_cli_names_still_parse(capsys):
    p = build_parser("debug")
    titles = [g.title for g in p._action_groups]
    for title in ("DISCERN options", "GCSL options", "Atari options", "grid world options"):
        assert title in titles
    group = next(g for g in p._action_groups if g.title == "DISCERN options")
    assert "--discern_beta" in {a.option_strings[0] for a in group._group_actions}
    args = p.parse_args(["debug", "--discern_beta", "2", "--game", "Pong"])
    assert args.discern_beta == 2.0 and args.game == "Pong"


def test_registering_a_field_twice_or_an_unknown_field_is_refused():
    with pytest.raises(ValueError, match="already belong to another owner.*DISCERN"):
        register_options("other", ("discern_beta",))
    with pytest.raises(ValueError, match="not Config fields"):
        register_options("other", ("nosuch",))
    assert "other" not in OPTION_GROUPS
