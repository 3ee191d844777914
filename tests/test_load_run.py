"""`experiments.common.load_run` goes through the Agent interface: any algorithm's run loads and
re-evaluates to the numbers train() wrote."""

from __future__ import annotations

import json

import pytest
import torch

from glamor_mini.experiments.common import load_run
from glamor_mini.resolve import make_config
from glamor_mini.train import train


def _tiny(layout: str, algo: str):
    return make_config(
        "debug",
        layout=layout,
        horizon=4,
        algo=algo,
        seed=0,
        total_steps=160,
        n_envs=4,
        learning_starts=40,
        eval_every=160,
        log_every=80,
        checkpoint_every=0,
        torch_threads=1,
        progress=False,
    )


@pytest.mark.parametrize("algo", ["gcsl", "discern"])
def test_load_run_loads_and_reevaluates_a_baseline_run(tmp_path, tiny_layout, algo):
    out = tmp_path / algo
    train(_tiny(tiny_layout, algo), out)
    run = load_run(out, device="cpu")
    assert run.cfg.algo == algo and run.agent.name == algo.upper()
    state = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)
    for name, module in run.agent.modules().items():
        assert not module.training
        for k, v in module.state_dict().items():
            assert torch.equal(v, state["agent"]["modules"][name][k]), (name, k)
    written = json.loads((out / "eval.json").read_text())
    again = run.evaluate()
    assert again.goal_achievement == pytest.approx(written["goal_achievement"])


def test_load_run_of_a_checkpoint_that_does_not_fit_its_agent_is_one_line(tmp_path, tiny_layout):
    out = tmp_path / "gcsl"
    train(_tiny(tiny_layout, "gcsl"), out)
    state = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)
    state["agent"]["modules"] = {"model": state["agent"]["modules"]["model"], "extra": {}}
    torch.save(state, out / "ckpt.pt")
    with pytest.raises(ValueError, match="does not fit a 'gcsl' agent.*retrain"):
        load_run(out, device="cpu")
