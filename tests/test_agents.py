"""The Agent seam (agents.py): every registered algorithm trains through the same loop and
round-trips its state through the run directory's weights-only checkpoint."""

from __future__ import annotations

import pytest
import torch

import glamor_mini.baselines  # noqa: F401  (registers the baselines)
from glamor_mini.agents import AGENTS, SEED_OFFSETS, build_agent
from glamor_mini.envs import make_task
from glamor_mini.resolve import make_config
from glamor_mini.rundir import read_checkpoint
from glamor_mini.train import Trainer, train


def test_registry_holds_every_algorithm_and_config_accepts_exactly_those():
    assert {"glamor", "gcsl"} <= set(AGENTS)
    for name in AGENTS:
        assert make_config("debug", algo=name).algo == name
    with pytest.raises(ValueError, match="choose one of"):
        make_config("debug", algo="dqn")


def test_seed_offsets_are_distinct():
    assert len(set(SEED_OFFSETS.values())) == len(SEED_OFFSETS)


@pytest.mark.parametrize("algo", sorted(AGENTS))
def test_checkpoint_round_trip_through_the_run_directory(algo, tmp_path):
    cfg = make_config("debug", algo=algo, total_steps=400, checkpoint_every=400)
    out = tmp_path / "run"
    result = train(cfg, out)
    state = read_checkpoint(out / "ckpt.pt")  # weights_only=True
    assert state["counters"]["agent_steps"] == 400 and state["config"]["algo"] == algo
    # a fresh Trainer on the same directory holds exactly the saved networks and optimisers
    resumed = Trainer(cfg.replace(total_steps=800), out)
    for name, module in resumed.agent.modules().items():
        saved = state["agent"]["modules"][name]
        for k, v in module.state_dict().items():
            assert torch.equal(v, saved[k]), (name, k)
    for k, v in result.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k])
    for name, opt in resumed.agent.optimizers().items():
        assert (
            opt.state_dict()["state"].keys() == state["agent"]["optimizers"][name]["state"].keys()
        )
    assert resumed.agent_steps == 400 and resumed.updates == result_updates(state)
    resumed.collector.close()


def result_updates(state) -> int:
    return int(state["counters"]["updates"])


@pytest.mark.parametrize("algo", sorted(AGENTS))
def test_update_changes_the_networks_and_reports_finite_stats(algo):
    cfg = make_config("debug", algo=algo)
    task = make_task(cfg)
    agent = build_agent(cfg, task, task.train_goals(0), torch.device("cpu"))
    from glamor_mini.replay import ReplayBuffer
    from glamor_mini.rollout import Collector

    replay = ReplayBuffer(2000, task.frame_shape, task.frame_stack, task.horizon, seed=0)
    col = Collector(task, 4, agent.collect_policy(), task.train_goals(0), replay, seed=0)
    for _ in range(3 * task.horizon):
        col.step()
    before = {k: v.clone() for k, v in agent.model.state_dict().items()}
    stats = agent.update(agent.sample(replay, 16))
    assert stats and all(torch.isfinite(v).all() for v in stats.values())
    assert any(not torch.equal(before[k], v) for k, v in agent.model.state_dict().items())
