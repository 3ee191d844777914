"""DISCERN (baselines/discern.py): the learned goal-achievement reward, the n-step double-DQN
update on a chain with a known fixed point, sampling, checkpoints, and runs through train()."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

import gridworld
from glamor_mini.agents import build_agent, seed_offset
from glamor_mini.baselines.discern import DiscernAgent
from glamor_mini.config import ConfigError
from glamor_mini.envs.gridworld import GridWorldTask
from glamor_mini.replay import ReplayBuffer
from glamor_mini.resolve import make_config

CPU = torch.device("cpu")
TINY = "#####\n#...#\n#.S.#\n#...#\n#####\n"  # 3x3 free cells, start in the centre
CHAIN = "#######\n#.....#\n#######\n"  # 5 cells in a row; up/down bump the walls (= stay)


def make_agent(layout: str, horizon: int, **overrides) -> tuple[DiscernAgent, GridWorldTask]:
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the networks' initial weights: not whatever earlier tests left
    task = GridWorldTask(gridworld.parse_layout(layout), horizon=horizon)
    cfg = make_config("debug", algo="discern", horizon=horizon, **overrides)
    agent = build_agent(cfg, task, task.train_goals(), CPU)
    assert isinstance(agent, DiscernAgent)
    return agent, task


def fill_replay(
    task: GridWorldTask, n: int, seed: int = 0, p_match: float = 0.0, unknown_goal: bool = False
) -> ReplayBuffer:
    """n uniformly random trajectories of T steps. The commanded goal is the final cell with
    probability p_match (a controller that often gets there), otherwise a uniform goal."""
    T, cells = task.horizon, task.cells
    rb = ReplayBuffer(n * (T + 1), task.frame_shape, 1, T, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        env = task.make_env()
        frame, _ = env.reset()
        frames, actions = [frame], rng.integers(task.n_actions, size=T)
        for a in actions:
            frame, labels, _ = env.step(int(a))
            frames.append(frame)
        goal = cells.index(tuple(int(v) for v in labels))
        if rng.random() >= p_match:
            goal = int(rng.integers(len(cells)))
        rb.add_trajectory(np.stack(frames), actions, goal=-1 if unknown_goal else goal)
    return rb


def exact_reward(final: torch.Tensor, goal: torch.Tensor, embedded=None) -> torch.Tensor:
    """The reward a perfect discriminator gives: 1 when the final frame is the goal frame."""
    return (final.flatten(1) == goal.flatten(1)).all(dim=1).float()


# ------------------------------------------------------------------ the reward model
def test_reward_model_ranks_the_true_goal_far_above_chance():
    # relabel 0: xi learns only from the commanded goals (80% of them were reached)
    agent, task = make_agent(TINY, 4, discern_relabel=0.0, discern_decoys=8, lr=3e-3)
    rb = fill_replay(task, 400, p_match=0.8)
    goals = torch.from_numpy(task.train_goals().frames)  # (9, 2, 5, 5)
    G = len(goals)

    def top1() -> float:  # rank every goal among all G goals, from its own cell as final state
        with torch.no_grad():
            cos = agent.embed(goals) @ agent.embed(goals).T  # (final, candidate)
        return float((cos.argmax(dim=1) == torch.arange(G)).float().mean())

    before = top1()
    for _ in range(300):
        agent.update(agent.sample(rb, 64))
    after = top1()
    assert after >= 0.9 > 3 * (1 / G), (before, after)  # chance is 1/9
    with torch.no_grad():  # r_T is high on the goal cell and low elsewhere
        r = torch.clamp(agent.embed(goals) @ agent.embed(goals).T, min=0)
    off = r[~torch.eye(G, dtype=torch.bool)]
    assert r.diagonal().min() > off.mean() + 0.3


def test_the_reward_separates_the_49_cells_while_the_policy_is_still_random():
    # The gridworld preset's DISCERN settings on the 7x7 room, data from the uniform policy with
    # uniform commanded goals (what the agent sees before it reaches any goal). On such pairs
    # L_xi wants a uniform discriminator, which pulls the cosines of different cells together;
    # the reward's contrast is ~3.7 / beta. Caught: discern_beta = 0.0 (beta = K + 1 = 32) as
    # the default -> off-diagonal r_T 0.88-0.90 (seeds 0-2), the 7x7 grid stuck at its floor.
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the networks' initial weights: not whatever earlier tests left
    task = GridWorldTask("empty-7x7", horizon=10)
    cfg = make_config("gridworld", algo="discern")
    agent = build_agent(cfg, task, task.train_goals(), CPU)
    rb = fill_replay(task, 300)
    for _ in range(400):
        stats = agent.update(agent.sample(rb, 64))
    goals = torch.from_numpy(task.train_goals().frames)
    G = len(goals)
    r = agent.final_reward(goals.repeat_interleave(G, 0), goals.repeat(G, 1, 1, 1)).view(G, G)
    off = r[~torch.eye(G, dtype=torch.bool)]
    assert r.diagonal().min() > 0.999  # a goal relabelled with the own final frame: r_T = 1
    assert off.mean() < 0.75, float(off.mean())  # 0.42-0.61 with beta = 4 (seeds 0-2)
    # the logged diagnostic reads the same off-diagonal, from one batch's decoys
    assert abs(float(stats["reward_decoy"]) - float(off.mean())) < 0.15


def test_xi_loss_never_reaches_the_q_network():
    agent, task = make_agent(TINY, 4)
    batch = agent.sample(fill_replay(task, 20), 32)
    loss, _ = agent.discriminator_loss(batch)
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in agent.qnet.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.xi.parameters())


def test_final_reward_is_the_clipped_cosine_by_hand():
    agent, task = make_agent(TINY, 4, discern_relabel=0.5)
    with torch.no_grad():  # a random xi, centred on the goals, whose cosines take both signs
        agent.xi.proj.weight.normal_(generator=torch.Generator().manual_seed(0))
        h = agent.qnet.goal_encoder(torch.from_numpy(task.train_goals().frames))
        agent.xi.proj.bias.copy_(-agent.xi.proj.weight @ h.mean(0))
    batch = agent.sample(fill_replay(task, 50), 256)
    W, b = agent.xi.proj.weight.detach(), agent.xi.proj.bias.detach()
    with torch.no_grad():
        u = agent.qnet.goal_encoder(batch.final) @ W.T + b
        v = agent.qnet.goal_encoder(batch.goal) @ W.T + b
    cos = (u * v).sum(1) / (u.norm(dim=1) * v.norm(dim=1))
    assert (cos < -0.1).any() and (cos > 0.1).any()  # the clip matters on this batch
    r = agent.final_reward(batch.final, batch.goal)
    torch.testing.assert_close(r, cos.clamp(min=0), atol=1e-5, rtol=1e-5)
    relabelled = batch.goal_idx < 0
    assert 0.3 < relabelled.float().mean() < 0.7
    torch.testing.assert_close(r[relabelled], torch.ones(int(relabelled.sum())), atol=1e-6, rtol=0)


def test_sampled_batch_is_consistent_with_the_stored_trajectories():
    agent, task = make_agent(TINY, 4, discern_n_step=3, discern_relabel=0.0)
    rb = fill_replay(task, 30)
    b = agent.sample(rb, 500)
    T = task.horizon
    assert torch.equal(b.t_next, b.t + b.m) and bool((b.m >= 1).all() and (b.m <= 3).all())
    assert torch.equal(b.done, b.t_next == T)  # every trajectory here lasts T steps
    assert torch.equal(b.m, torch.clamp(T - b.t, max=3))
    goals = torch.from_numpy(task.train_goals().frames)
    assert bool((b.goal_idx >= 0).all()) and torch.equal(b.goal, goals[b.goal_idx])
    assert bool(b.decoy_is_goal.any()) and torch.equal(
        b.decoy_is_goal, (b.goal.flatten(1)[:, None] == b.decoys.flatten(1)[None]).all(-1)
    )
    # stored without a commanded goal -> always relabelled with the final frame
    b2 = agent.sample(fill_replay(task, 30, unknown_goal=True), 100)
    assert bool((b2.goal_idx == -1).all()) and torch.equal(b2.goal, b2.final)


def test_sampling_draws_on_the_agents_device_from_the_agents_seed():
    """The relabelling coin and the decoys come from the agent's own generator, which lives on
    the agent's (= the replay's) device, so a GPU batch costs no host-to-device copy of them;
    on the CPU the stream is the one seeded by seed_offset(seed, 'agent')."""
    agent, task = make_agent(TINY, 4, discern_relabel=0.5)
    assert agent.generators["discern"].device == agent.device
    rb = fill_replay(task, 30)
    b = agent.sample(rb, 64)
    fresh = torch.Generator().manual_seed(seed_offset(agent.cfg.seed, "agent"))
    coin = torch.rand(64, generator=fresh) < 0.5
    assert torch.equal(b.goal_idx == -1, coin)  # every stored step here has a commanded goal
    decoys = torch.randint(len(task.train_goals().frames), (agent.k_decoys,), generator=fresh)
    goals = torch.from_numpy(task.train_goals().frames)
    assert torch.equal(b.decoys, goals[decoys])


# ------------------------------------------------------------------ the Q-learner
def nstep_fixed_point(n: int, n_cells: int, T: int, gamma: float) -> np.ndarray:
    """The exact fixed point Q[s, a, t, g] of n-step Q-learning on the chain, with a reward of 1
    when the final cell is g, for data from the uniform policy (4 actions: up and down stay).
    n = 1 is the optimal Q*; for n > 1 the n-1 intermediate actions are the behaviour's."""
    dx = (0, 1, 0, -1)
    Q = np.zeros((n_cells, 4, T, n_cells))

    def step(s: int, a: int) -> int:
        return min(max(s + dx[a], 0), n_cells - 1)

    def ret(s: int, tau: int, j: int, g: int) -> float:  # s reached at time tau after j steps
        if tau == T:
            return gamma ** (j - 1) * float(s == g)
        if j == n:
            return gamma**n * Q[s, :, tau, g].max()
        return float(np.mean([ret(step(s, a), tau + 1, j + 1, g) for a in range(4)]))

    for t in range(T - 1, -1, -1):
        for s in range(n_cells):
            for a in range(4):
                for g in range(n_cells):
                    Q[s, a, t, g] = ret(step(s, a), t + 1, 1, g)
    return Q


def test_q_learning_converges_to_the_optimal_q_on_a_chain():
    T, gamma = 4, 0.8
    agent, task = make_agent(
        CHAIN, T, discern_n_step=1, discern_gamma=gamma, discern_relabel=0.0,
        discern_target_period=25, lr=3e-3, state_size=64, mlp_hidden=128, discern_decoys=4,
    )  # fmt: skip
    agent.final_reward = exact_reward  # test the Q-learner alone, with the ideal reward
    rb = fill_replay(task, 1000)
    n_cells = len(task.cells)
    Qx = nstep_fixed_point(1, n_cells, T, gamma)  # = Q*: gamma^(T-1-t) if g stays reachable
    # every (cell, time, goal) the data holds: cell s is reachable at time t from the centre
    s, t, g = (x.ravel() for x in np.meshgrid(*(np.arange(k) for k in (n_cells, T, n_cells))))
    keep = np.abs(s - n_cells // 2) <= t
    s, t, g = s[keep], t[keep], g[keep]
    frames = torch.from_numpy(task.train_goals().frames)
    for _ in range(1000):
        agent.update(agent.sample(rb, 128))
    with torch.no_grad():
        q = agent.qnet(frames[s], frames[g], torch.from_numpy(t)).numpy()
    err = np.abs(q - Qx[s, :, t, g])
    assert err.mean() < 0.04 and np.quantile(err, 0.95) < 0.15, (err.mean(), err.max())
    # the greedy action is optimal wherever Q* separates the actions by > 0.1
    gap = Qx[s, :, t, g].max(1) - np.sort(Qx[s, :, t, g], axis=1)[:, -2]
    best = Qx[s, :, t, g][np.arange(len(s)), q.argmax(1)] == Qx[s, :, t, g].max(1)
    assert best[gap > 0.1].mean() > 0.95


class TableQ(torch.nn.Module):
    """A Q-network stand-in: Q[cell of obs, goal cell, t, a] from a fixed table."""

    def __init__(self, table: np.ndarray, cells_x: np.ndarray):
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)  # (cells, goals, T + 1, A)
        self.x_to_cell = {int(x): i for i, x in enumerate(cells_x)}

    def cell(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames[:, 0].amax(dim=1).argmax(dim=1)  # the agent's column
        return torch.tensor([self.x_to_cell[int(v)] for v in x])

    def forward(self, obs, goal, t):
        return self.table[self.cell(obs), self.cell(goal), t]


def test_nstep_double_dqn_targets_by_hand():
    T, gamma, n = 4, 0.8, 3
    agent, task = make_agent(CHAIN, T, discern_n_step=n, discern_gamma=gamma)
    rb = fill_replay(task, 200)
    rng = np.random.default_rng(0)
    n_cells = len(task.cells)
    online = rng.random((n_cells, n_cells, T + 1, 4))
    target = rng.random((n_cells, n_cells, T + 1, 4))
    cells_x = np.array([c[0] for c in task.cells])
    agent.qnet, agent.target = TableQ(online, cells_x), TableQ(target, cells_x)
    b = agent.sample(rb, 400)
    r = torch.rand(400, generator=torch.Generator().manual_seed(0))
    y = agent.q_targets(b, r)
    nxt, goal, tn = agent.qnet.cell(b.next_obs), agent.qnet.cell(b.goal), b.t_next
    for i in range(400):  # by hand, row by row
        m, done = int(b.m[i]), bool(b.done[i])
        if done:  # the trajectory ended within n steps: its reward, no bootstrap past T
            assert int(b.t[i]) + m == T
            want = gamma ** (m - 1) * float(r[i])
        else:  # double DQN: the online net picks the action, the target net values it
            assert m == n
            a_star = int(np.argmax(online[nxt[i], goal[i], tn[i]]))
            want = gamma**n * target[nxt[i], goal[i], tn[i], a_star]
        assert abs(float(y[i]) - want) < 1e-5, (i, m, done)
    assert b.done.any() and (~b.done).any() and set(b.m.tolist()) == {1, 2, 3}


def test_target_network_is_copied_every_period():
    agent, task = make_agent(TINY, 4, discern_target_period=3)
    rb = fill_replay(task, 20)

    def same() -> bool:
        return all(
            torch.equal(a, b)
            for a, b in zip(agent.qnet.parameters(), agent.target.parameters(), strict=True)
        )

    assert same()
    for u in range(1, 7):
        agent.update(agent.sample(rb, 16))
        assert same() == (u % 3 == 0), u
    assert not any(p.requires_grad for p in agent.target.parameters())


def test_update_equals_its_three_parts_computed_apart():
    """update() encodes batch.goal once with the online goal encoder and shares the features
    (with their graph for the Q step, detached for xi and the double-DQN action). Its result
    must be that of the parts computed apart, as the module docstring writes them: xi's loss,
    r_T, the n-step targets and the Q loss, one backward, one step of each optimiser."""
    kw = dict(discern_n_step=2, discern_relabel=0.5, grad_clip=1.0)
    agent, task = make_agent(TINY, 4, **kw)
    ref, _ = make_agent(TINY, 4, **kw)  # the same initial weights (make_agent seeds them)
    rb = fill_replay(task, 40, p_match=0.3)
    for _ in range(3):
        batch = agent.sample(rb, 48)
        stats = agent.update(batch)
        xi_loss, _ = ref.discriminator_loss(batch)
        reward = ref.final_reward(batch.final, batch.goal)
        y = ref.q_targets(batch, reward)
        q = ref.qnet(batch.obs, batch.goal, batch.t).gather(1, batch.action.view(-1, 1))
        q_loss = torch.nn.functional.smooth_l1_loss(q.squeeze(1), y)
        ref.q_optimizer.zero_grad()
        ref.xi_optimizer.zero_grad()
        (q_loss + xi_loss).backward()
        torch.nn.utils.clip_grad_norm_(ref.qnet.parameters(), 1.0)
        torch.nn.utils.clip_grad_norm_(ref.xi.parameters(), 1.0)
        ref.q_optimizer.step()
        ref.xi_optimizer.step()
        torch.testing.assert_close(stats["q_loss"], q_loss.detach())
        torch.testing.assert_close(stats["reward_loss"], xi_loss.detach())
        for mine, theirs in ((agent.qnet, ref.qnet), (agent.xi, ref.xi)):
            for a, b in zip(mine.parameters(), theirs.parameters(), strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_update_runs_each_encoder_once_per_input():
    """One update encodes: online goal encoder batch.goal, the final frames and the decoys (3),
    online obs encoder s_t and s_{t+m} (2), the target network s_{t+m} and the goal (1 + 1)."""
    agent, task = make_agent(TINY, 4)
    batch = agent.sample(fill_replay(task, 20), 16)
    calls: dict[str, int] = {}
    for net_name, net in (("q", agent.qnet), ("target", agent.target)):
        for enc in ("obs_encoder", "goal_encoder"):
            key = f"{net_name}.{enc}"
            getattr(net, enc).register_forward_hook(
                lambda *_, key=key: calls.__setitem__(key, calls.get(key, 0) + 1)
            )
    agent.update(batch)
    assert calls == {
        "q.goal_encoder": 3, "q.obs_encoder": 2, "target.goal_encoder": 1, "target.obs_encoder": 1
    }  # fmt: skip


# ------------------------------------------------------------------ checkpoints
def test_state_dict_round_trip_through_weights_only_load():
    a, task = make_agent(TINY, 4, seed=0, discern_target_period=4)
    rb = fill_replay(task, 30)
    for _ in range(5):
        a.update(a.sample(rb, 16))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    b, _ = make_agent(TINY, 4, seed=1, discern_target_period=4)
    b.load_state_dict(state)
    b.generators["discern"].set_state(a.generators["discern"].get_state())
    assert b.updates == a.updates == 5
    for name, m in a.modules().items():
        other = b.modules()[name].state_dict()
        for k, x in m.state_dict().items():
            assert torch.equal(x, other[k]), (name, k)
    rb_b = ReplayBuffer(rb.capacity, rb.frame_shape, 1, rb.horizon)
    rb_b.load_state_dict(rb.state_dict())
    for _ in range(4):  # the 8th update copies the target: both must do it at the same time
        sa, sb = a.update(a.sample(rb, 16)), b.update(b.sample(rb_b, 16))
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    for x, y in zip(a.target.parameters(), b.target.parameters(), strict=True):
        assert torch.equal(x, y)
    c, _ = make_agent(TINY, 4, discern_dueling=False)
    with pytest.raises(RuntimeError):  # another architecture: a clear load error
        c.load_state_dict(state)


def test_config_rejects_bad_discern_values():
    for bad in (
        dict(discern_n_step=0),
        dict(discern_relabel=1.5),
        dict(discern_gamma=0.0),
        dict(discern_decoys=0),
    ):
        with pytest.raises(ConfigError, match="discern_"):
            make_config("debug", algo="discern", **bad)
    assert "discern" in json.dumps(make_config("debug", algo="discern").to_dict())


# ------------------------------------------------------------------ through train() and the CLI
@pytest.mark.parametrize(
    "preset,needs",
    [("debug", None), ("minigrid-debug", "minigrid"), ("atari-debug", "ale_py"),
     ("dmc-debug", "dm_control")],
)  # fmt: skip
def test_cli_runs_discern_on_every_debug_preset(preset, needs, tmp_path, capsys):
    from glamor_mini.run import main

    if needs is not None:
        pytest.importorskip(needs)
    out = tmp_path / preset
    assert main([preset, "--algo", "discern", "--out", str(out)]) == 0
    ev = json.loads((out / "eval.json").read_text())
    assert ev["algo"] == "DISCERN" and ev["policy"]["act"] == "greedy argmax Q"
    assert ev["early_stop_rate"] == 0.0  # DISCERN acts for T steps
    assert "planner" not in ev


def test_discern_beats_the_random_floor_on_the_tiny_grid(tiny_grid_config, tmp_path):
    from glamor_mini.floor import random_floor
    from glamor_mini.train import train

    cfg = tiny_grid_config(algo="discern", torch_threads=1, discern_target_period=50)
    result = train(cfg, tmp_path / "run")
    floor = float(np.mean(random_floor("debug", [0, 1, 2], 10, layout=cfg.layout, horizon=4)))
    assert 0.05 < floor < 0.2  # simulated on the same goals and horizon (about 0.12)
    assert result.eval.goal_achievement >= floor + 0.2, (result.eval.goal_achievement, floor)


def test_checkpoint_and_resume_through_train(tmp_path):
    from glamor_mini.train import Trainer, train

    cfg = make_config("debug", algo="discern", total_steps=600, discern_target_period=7)
    train(cfg, tmp_path / "run")
    state = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    saved = state["agent"]
    assert set(saved["modules"]) == {"q", "q_target", "xi"} and saved["extra"]["updates"] > 0
    trainer = Trainer(cfg.replace(total_steps=1200), tmp_path / "run")  # resumes
    agent = trainer.agent
    assert agent.updates == saved["extra"]["updates"] and trainer.agent_steps == 600
    for name, m in agent.modules().items():
        for k, x in m.state_dict().items():
            assert torch.equal(x, saved["modules"][name][k]), (name, k)
    result = trainer.run()
    assert result.agent_steps == 1200 and agent.updates > saved["extra"]["updates"]


def test_baselines_experiment_runs_the_three_agents_with_one_config():
    from glamor_mini.experiments import get_experiment
    from glamor_mini.experiments.baselines import specs

    assert callable(get_experiment("baselines"))
    sweep = specs("small", [0, 1])
    assert [s.cfg.algo for s in sweep] == ["glamor"] * 2 + ["gcsl"] * 2 + ["discern"] * 2
    base = {k: v for k, v in sweep[0].cfg.to_dict().items() if k not in ("algo", "seed")}
    for s in sweep:  # identical budgets, schedules and settings; only algo and seed differ
        assert {k: v for k, v in s.cfg.to_dict().items() if k not in ("algo", "seed")} == base
