"""A closed-loop policy encodes each episode's goal once (policies.GoalFeatures): the features it
hands the planner are those of the goal each row has now, and its plans are those of a planner
that encodes the goal at every step."""

from __future__ import annotations

import torch

from glamor_mini import policies
from glamor_mini.models import GlamorModel
from glamor_mini.planner import PlannerSettings, plan
from glamor_mini.policies import ClosedLoopPolicy, GoalFeatures

OBS, GOAL, A = (2, 5, 5), (1, 5, 5), 3


def small_model() -> GlamorModel:
    torch.manual_seed(0)
    m = GlamorModel(OBS, GOAL, A, state_size=16, mlp_hidden=16, lstm_hidden=8)
    with torch.no_grad():  # a non-flat Eq. 8 landscape: plans depend on the goal
        m.inverse.out.weight.mul_(6.0)
        m.prior.out.weight.mul_(3.0)
    return m.eval()


def frames(n: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)


# Steps of an evaluation: (slots, which slots start an episode). Rows leave as their episodes end
# and come back in another order, so a row is not its slot; slot 1 starts a second episode with a
# new goal at step 3, and slot 4 is first seen at step 4 without being flagged new.
STEPS = [
    ([0, 1, 2, 3], [True, True, True, True]),
    ([0, 1, 3], [False, False, False]),
    ([3, 1], [False, False]),
    ([1, 2, 0], [True, False, False]),
    ([4, 1], [False, False]),
]


def goals_at(step: int) -> dict[int, torch.Tensor]:
    """Each slot's goal frame at a step: slot 1's changes with its new episode at step 3."""
    base = frames(5, GOAL, seed=1)
    goals = {s: base[s] for s in range(5)}
    if step >= 3:
        goals[1] = frames(1, GOAL, seed=2)[0]
    return goals


def test_goal_features_are_those_of_each_rows_goal_now_encoded_once_per_episode():
    model = small_model()
    calls: list[int] = []

    def encode(g: torch.Tensor) -> torch.Tensor:
        calls.append(len(g))
        return model.encode_goal(g)

    cache = GoalFeatures(encode)
    with torch.no_grad():
        for step, (slots, new) in enumerate(STEPS):
            goal = torch.stack([goals_at(step)[s] for s in slots])
            got = cache(torch.tensor(slots), goal, torch.tensor(new))
            torch.testing.assert_close(got, model.encode_goal(goal))
    # 4 goals at the start, slot 1's new goal at step 3, slot 4 (unseen) at step 4
    assert calls == [4, 1, 1]


def test_closed_loop_plans_are_those_of_a_planner_that_encodes_every_goal(monkeypatch):
    model, settings = small_model(), PlannerSettings(n_candidates=16)
    handed: list[tuple[torch.Tensor, torch.Tensor]] = []

    def spy(*args, goal_features=None, **kwargs):
        handed.append((args[2], goal_features))
        return plan(*args, goal_features=goal_features, **kwargs)

    monkeypatch.setattr(policies, "plan", spy)
    policy = ClosedLoopPolicy(model, settings, torch.Generator().manual_seed(7))
    reference = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for step, (slots, new) in enumerate(STEPS):
            goal = torch.stack([goals_at(step)[s] for s in slots])
            obs = frames(len(slots), OBS, seed=10 + step)
            left = torch.full((len(slots),), 6 - step)
            a, stop = policy.act(torch.tensor(slots), obs, goal, left, torch.tensor(new))
            p = plan(model, obs, goal, left, settings, reference)
            assert a.tolist() == p.actions[:, 0].clamp(min=0).tolist()
            assert stop.tolist() == (p.length == 0).tolist()
            goal_seen, features = handed[-1]
            assert goal_seen is goal
            torch.testing.assert_close(features, model.encode_goal(goal))


def test_plan_with_goal_features_equals_plan_that_encodes_the_goal():
    model, settings = small_model(), PlannerSettings(n_candidates=16)
    obs, goal = frames(4, OBS, seed=3), frames(4, GOAL, seed=4)
    with torch.no_grad():
        p = plan(model, obs, goal, 5, settings, torch.Generator().manual_seed(0))
        q = plan(
            model,
            obs,
            goal,
            5,
            settings,
            torch.Generator().manual_seed(0),
            goal_features=model.encode_goal(goal),
        )
        other = plan(
            model,
            obs,
            goal,
            5,
            settings,
            torch.Generator().manual_seed(0),
            goal_features=model.encode_goal(goal.flip(0)),
        )
    assert torch.equal(p.actions, q.actions) and torch.equal(p.score, q.score)
    assert not torch.equal(p.score, other.score)  # the features are what the planner uses
