"""Acting with plans (paper §3.5): the open-loop plan index, epsilon-greedy, padding, closed loop.

The planner is replaced by a scripted one (`monkeypatch` of `policies.plan`) so that every test
knows the plan exactly; what is tested is how the policies execute it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glamor_mini import policies
from glamor_mini.planner import Plan, PlannerSettings
from glamor_mini.policies import (
    ClosedLoopPolicy,
    EpsilonGreedy,
    LinearSchedule,
    OpenLoopPolicy,
)

A = 4  # actions


class _FakeModel(torch.nn.Module):
    """Just enough of a GlamorModel for the policies: n_actions, a parameter (for the device)."""

    n_actions = A

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def encode_goal(self, goal: torch.Tensor) -> torch.Tensor:
        return goal.float().flatten(1)


class ScriptedPlanner:
    """Returns plans from a dict goal id -> action list; the goal id is goal[:, 0, 0, 0].
    Records every call's (goal ids, max_len)."""

    def __init__(self, plans: dict[int, list[int]]):
        self.plans = plans
        self.calls: list[tuple[list[int], list[int]]] = []

    def __call__(self, model, obs, goal, max_len, settings, generator=None, goal_features=None):
        ids = goal[:, 0, 0, 0].tolist()
        max_len = torch.as_tensor(max_len).expand(len(ids))
        self.calls.append((ids, max_len.tolist()))
        L = max(1, max(len(self.plans[i]) for i in ids))
        actions = torch.full((len(ids), L), -1, dtype=torch.long)
        length = torch.zeros(len(ids), dtype=torch.long)
        for r, i in enumerate(ids):
            seq = self.plans[i][: int(max_len[r])]
            actions[r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            length[r] = len(seq)
        return Plan(actions, length, torch.zeros(len(ids)))


@pytest.fixture
def scripted(monkeypatch):
    def install(plans):
        planner = ScriptedPlanner(plans)
        monkeypatch.setattr(policies, "plan", planner)
        return planner

    return install


def goals_of(ids) -> torch.Tensor:
    g = torch.zeros(len(ids), 1, 1, 1, dtype=torch.uint8)
    g[:, 0, 0, 0] = torch.tensor(ids, dtype=torch.uint8)
    return g


def step_args(slots, ids, left, new):
    slots = torch.tensor(slots, dtype=torch.long)
    obs = torch.zeros(len(slots), 1, 1, 1, dtype=torch.uint8)
    return (
        slots,
        obs,
        goals_of(ids),
        torch.tensor(left, dtype=torch.long),
        torch.tensor(new, dtype=torch.bool),
    )


def test_open_loop_executes_its_plan_by_time_since_planning_and_then_stops(scripted):
    """Two slots that plan at different times each follow their own plan, indexed by the steps
    since THEY planned; at evaluation (stop_at_end) a slot stops when its plan is used up."""
    planner = scripted({1: [2, 0, 3], 2: [1, 1]})
    T = 6
    pol = OpenLoopPolicy(_FakeModel(), PlannerSettings(), n_slots=2, horizon=T)
    # t = 0: slot 0 starts (goal 1); t = 1: slot 1 starts (goal 2)
    a, stop = pol.act(*step_args([0], [1], [T], [True]))
    assert a.tolist() == [2] and stop.tolist() == [False]
    a, stop = pol.act(*step_args([0, 1], [1, 2], [T - 1, T], [False, True]))
    assert a.tolist() == [0, 1] and stop.tolist() == [False, False]
    a, stop = pol.act(*step_args([0, 1], [1, 2], [T - 2, T - 1], [False, False]))
    assert a.tolist() == [3, 1] and stop.tolist() == [False, False]
    a, stop = pol.act(*step_args([0, 1], [1, 2], [T - 3, T - 2], [False, False]))
    assert stop.tolist() == [True, True]  # both plans are used up: each chose END there
    # the planner ran once per slot, when its episode started, with max_len = T - t
    assert planner.calls == [([1], [T]), ([2], [T])]


def test_open_loop_collection_pads_with_uniform_random_actions_until_T(scripted):
    """stop_at_end=False (collection, docs/design.md): after the plan, uniform random actions pad
    the episode; the agent never stops. An empty plan [END] is all padding."""
    scripted({1: [3], 0: []})
    T, n = 5, 4000
    pol = OpenLoopPolicy(_FakeModel(), PlannerSettings(), n, T, stop_at_end=False, seed=3)
    half = n // 2
    ids = [1] * half + [0] * half
    seen = []
    for t in range(T):
        a, stop = pol.act(*step_args(list(range(n)), ids, [T - t] * n, [t == 0] * n))
        assert not stop.any()
        seen.append(a)
    acts = torch.stack(seen, 1)  # (n, T)
    assert (acts[:half, 0] == 3).all()  # the plan first
    pad = torch.cat([acts[:half, 1:].flatten(), acts[half:].flatten()])
    freq = torch.bincount(pad, minlength=A).float() / len(pad)
    assert torch.allclose(freq, torch.full((A,), 1 / A), atol=0.02), freq


def test_epsilon_greedy_replaces_actions_at_rate_eps():
    class Zero:
        def act(self, slots, obs, goal, left, new):
            return torch.zeros(len(slots), dtype=torch.long), torch.zeros(len(slots), dtype=bool)

    n = 40_000
    for eps in (0.0, 0.3, 1.0):
        pol = EpsilonGreedy(Zero(), A, eps=eps, seed=1)
        a, stop = pol.act(*step_args(list(range(n)), [0] * n, [3] * n, [True] * n))
        # a random action is uniform over all A actions, so it differs from 0 w.p. eps (A-1)/A
        rate = float((a != 0).float().mean())
        assert rate == pytest.approx(eps * (A - 1) / A, abs=0.01), (eps, rate)
        assert not stop.any()
        if eps == 1.0:
            freq = torch.bincount(a, minlength=A).float() / n
            assert torch.allclose(freq, torch.full((A,), 1 / A), atol=0.01)


def test_epsilon_greedy_step_advances_the_open_loop_plan(scripted):
    """A random step consumes the plan action it replaced (policies.py; the authors'
    MixturePolicy does the same): after one random step the agent takes plan[1], not plan[0]."""
    scripted({1: [2, 0, 3]})
    T = 5
    inner = OpenLoopPolicy(_FakeModel(), PlannerSettings(), 1, T, stop_at_end=False)
    pol = EpsilonGreedy(inner, A, eps=1.0, seed=0)
    pol.act(*step_args([0], [1], [T], [True]))  # random step at t = 0
    pol.eps = 0.0
    a, _ = pol.act(*step_args([0], [1], [T - 1], [False]))
    assert a.tolist() == [0]  # plan[1]
    a, _ = pol.act(*step_args([0], [1], [T - 2], [False]))
    assert a.tolist() == [3]  # plan[2]


def test_closed_loop_replans_every_step_and_stops_on_the_empty_plan(scripted):
    """Executes the first action of the best plan; stops only when the best plan is [END]
    (a one-action plan [a, END] is executed, not a stop)."""
    planner = scripted({1: [2, 1], 0: [], 3: [3]})
    pol = ClosedLoopPolicy(_FakeModel(), PlannerSettings())
    a, stop = pol.act(*step_args([0, 1, 2], [1, 0, 3], [4, 4, 4], [True] * 3))
    assert a.tolist()[0] == 2 and a.tolist()[2] == 3
    assert stop.tolist() == [False, True, False]
    pol.act(*step_args([0], [1], [3], [False]))
    assert planner.calls == [([1, 0, 3], [4, 4, 4]), ([1], [3])]  # replans, max_len = T - t


def test_linear_schedule():
    s = LinearSchedule(1.0, 0.1, 100)
    assert [s(t) for t in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    assert LinearSchedule(1.0, 0.1, 0)(0) == 0.1
    assert np.isclose(s(-5), 1.0)
