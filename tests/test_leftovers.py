"""One way to do each thing: the floor job reuses floor.py, the baselines build their networks
with one helper, and unused helpers are gone."""

from __future__ import annotations

import json

import pytest
import torch

import glamor_mini.appendix as appendix
import glamor_mini.experiments.common as common
import glamor_mini.utils as utils
from glamor_mini import floor
from glamor_mini.baselines.discern import DiscernQNet
from glamor_mini.baselines.gcsl import GCSLPolicyModel, build_gcsl_model
from glamor_mini.envs import make_task, obs_shape
from glamor_mini.experiments.executor import run_job
from glamor_mini.resolve import make_config


def test_unused_helpers_are_gone():
    assert not hasattr(utils, "atomic_torch_save")
    assert not hasattr(common, "full_scale_command")
    assert not hasattr(appendix.DieRun, "loaded_share")


def test_floor_job_is_floor_result_on_each_policy(tmp_path, tiny_layout, monkeypatch, capsys):
    cfg = make_config("debug", layout=tiny_layout, horizon=4, seed=1, eval_episodes=2)
    calls = []
    real = floor.floor_result

    def spy(task, goals, policy, episodes, seed):
        calls.append((policy, episodes, seed))
        return real(task, goals, policy, episodes, seed)

    monkeypatch.setattr(floor, "floor_result", spy)
    out = run_job("floor", cfg.to_dict(), str(tmp_path / "f"))
    assert calls == [("random", 2, 1), ("stop", 2, 1)]
    expected = {
        p: floor.floor_results("debug", [1], 2, p, layout=tiny_layout, horizon=4)[0]
        for p in ("random", "stop")
    }
    assert out == {p: r.goal_achievement for p, r in expected.items()}
    assert json.loads((tmp_path / "f" / "floor.json").read_text())["seed"] == 1
    err = capsys.readouterr().err  # a line per floor, as goal-set stages print theirs
    for p in ("random", "stop"):
        assert f"seed 1: {p} floor {out[p]:.3f} (" in err


@pytest.mark.parametrize("cls", [GCSLPolicyModel, DiscernQNet])
def test_baselines_build_their_torso_from_the_config(cls, tiny_layout):
    cfg = make_config("debug", layout=tiny_layout, horizon=4, state_size=24, mlp_hidden=12)
    task = make_task(cfg)
    torch.manual_seed(0)
    net = cls.from_config(cfg, obs_shape(task), task.frame_shape, task.n_actions, task.horizon)
    assert net.state_size == 24 and net.horizon == task.horizon
    torch.manual_seed(0)
    ref = cls(
        obs_shape(task),
        task.frame_shape,
        task.n_actions,
        task.horizon,
        encoder=cfg.encoder,
        state_size=24,
        mlp_hidden=12,
    )
    for (k, a), (_, b) in zip(net.state_dict().items(), ref.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    if cls is GCSLPolicyModel:
        torch.manual_seed(0)
        built = build_gcsl_model(cfg, task)
        assert all(
            torch.equal(a, b)
            for a, b in zip(built.state_dict().values(), net.state_dict().values(), strict=True)
        )
