"""Tests for the MiniGrid pixel suite (glamor_mini/envs/minigrid.py) and its presets."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("minigrid")

from glamor_mini.envs import make_task  # noqa: E402
from glamor_mini.envs.minigrid import MiniGridTask  # noqa: E402
from glamor_mini.resolve import make_config  # noqa: E402

LEFT, RIGHT, FORWARD = 0, 1, 2


@pytest.fixture(scope="module")
def room() -> MiniGridTask:
    """The 7x7-interior room, EmptyEnv(size=9)."""
    return MiniGridTask("MiniGrid-Empty-9x9-v0", horizon=20)


def random_walk(task: MiniGridTask, n: int, seed: int = 0):
    """Yield (env, frame, labels, ended) along a seeded random walk (reset when it ends)."""
    env = task.make_env()
    rng = np.random.default_rng(seed)
    frame, labels = env.reset(seed=seed)
    yield env, frame, labels, False
    for _ in range(n):
        frame, labels, ended = env.step(int(rng.integers(task.n_actions)))
        yield env, frame, labels, ended
        if ended:
            frame, labels = env.reset()
            yield env, frame, labels, False


def test_shapes_dtypes_and_counts(room):
    assert room.n_actions == 3
    assert room.label_names == ("x", "y", "dir")
    assert room.frame_shape == (3, 36, 36)  # 9 cells x 4 px
    env = room.make_env()
    frame, labels = env.reset(seed=0)
    assert frame.shape == room.frame_shape and frame.dtype == np.uint8
    assert labels.shape == (3,) and labels.dtype == np.float32
    assert labels.tolist() == [1.0, 1.0, 0.0]  # MiniGrid's Empty start: top-left, facing east
    frame, labels, ended = env.step(FORWARD)
    assert frame.shape == room.frame_shape and frame.dtype == np.uint8
    assert labels.tolist() == [2.0, 1.0, 0.0] and ended is False
    # 7 x 7 free cells x 4 headings, all reachable; the eval set is all of them (196 <= 200)
    assert len(room.states) == 196
    goals = room.eval_goals(0)
    assert goals.frames.shape == (196, 3, 36, 36) and goals.frames.dtype == np.uint8
    assert goals.labels.shape == (196, 3) and goals.labels.dtype == np.float32
    assert len({tuple(g) for g in goals.labels.tolist()}) == 196


def test_goal_image_equals_observation_and_labels_match_env(room):
    goals = room.eval_goals(0)
    lookup = {tuple(lab): i for i, lab in enumerate(goals.labels.astype(int).tolist())}
    for env, frame, labels, _ in random_walk(room, 300, seed=1):
        x, y = (int(v) for v in env.env.agent_pos)
        assert labels.tolist() == [x, y, int(env.env.agent_dir)]
        np.testing.assert_array_equal(frame, goals.frames[lookup[(x, y, int(labels[2]))]])


def test_frames_are_minigrids_own_render_downsampled(room):
    """Our fast compositor draws exactly what MiniGrid draws (area-averaged to 4 px tiles)."""
    from glamor_mini.envs.minigrid import SUPERSAMPLE, _downsample

    env = room.make_env()
    env.reset(seed=0)
    for a in (FORWARD, FORWARD, RIGHT, FORWARD):
        frame, _, _ = env.step(a)
    big = env.env.get_frame(highlight=False, tile_size=4 * SUPERSAMPLE)
    np.testing.assert_array_equal(frame, _downsample(big, SUPERSAMPLE))


def test_every_state_has_a_distinct_image(room):
    frames = room.eval_goals(0).frames.reshape(196, -1)
    assert len(np.unique(frames, axis=0)) == 196  # the heading is visible, too


def test_optimal_steps_exact_values(room):
    start = np.array([[1, 1, 0]] * 5, dtype=np.float32)  # top-left, facing east
    goal = np.array([[1, 1, 0], [7, 1, 0], [1, 1, 2], [7, 7, 1], [7, 7, 2]], dtype=np.float32)
    # stay; 6 forward; 2 turns; 6 forward + right + 6 forward; one more right turn
    assert room.optimal_steps(start, goal).tolist() == [0, 6, 2, 13, 14]


def test_optimal_steps_agree_with_brute_force(room):
    """Breadth-first search by hand over action sequences through the real env."""
    start = (1, 1, 0)
    env = room.make_env()
    frontier, seen = [()], {start: 0}
    for depth in range(1, 5):
        nxt = []
        for seq in frontier:
            for a in range(3):
                env.reset(seed=0)
                for b in (*seq, a):
                    _, lab, _ = env.step(b)
                s = tuple(int(v) for v in lab)
                if s not in seen:
                    seen[s] = depth
                    nxt.append((*seq, a))
        frontier = nxt
    goals = np.array(list(seen), dtype=np.float32)
    got = room.optimal_steps(np.repeat(np.array([start], np.float32), len(goals), 0), goals)
    assert got.tolist() == list(seen.values())


def test_layout_dynamics_match_minigrid():
    """The map model (used by BFS and for drawing plans) steps exactly like MiniGrid, lava too."""
    for env_id in ("MiniGrid-FourRooms-v0", "MiniGrid-LavaGapS5-v0"):
        task = MiniGridTask(env_id, horizon=40, random_start=True)
        env = task.make_env()
        rng = np.random.default_rng(3)
        ended_seen = False
        for ep in range(20):
            _, lab = env.reset(seed=ep)
            state = tuple(int(v) for v in lab)
            for _ in range(40):
                a = int(rng.integers(3))
                _, lab, ended = env.step(a)
                x, y, d, died = task.layout.next_state(*state, a)
                assert tuple(int(v) for v in lab) == (x, y, d) and ended == died
                state = (x, y, d)
                ended_seen |= ended
                if ended:
                    break
        if env_id == "MiniGrid-LavaGapS5-v0":
            assert ended_seen, "random walks next to lava should fall in at least once"


def test_goal_square_is_removed_and_does_not_end_the_episode():
    task = MiniGridTask("MiniGrid-Empty-5x5-v0", horizon=10)
    assert "goal" not in set(task.layout.kinds.ravel())
    env = task.make_env()
    env.reset(seed=0)
    for a in (FORWARD, FORWARD, RIGHT, FORWARD):
        _, lab, ended = env.step(a)
        assert not ended
    _, lab, ended = env.step(FORWARD)  # onto MiniGrid's goal cell (3, 3)
    assert lab.tolist() == [3, 3, 1] and not ended


def test_seeded_determinism():
    """Two seeded envs side by side (random starts) agree; another seed differs."""
    a = MiniGridTask("MiniGrid-FourRooms-v0", horizon=30, random_start=True).make_env()
    b = MiniGridTask("MiniGrid-FourRooms-v0", horizon=30, random_start=True).make_env()
    rng = np.random.default_rng(0)
    fa, la = a.reset(seed=11)
    fb, lb = b.reset(seed=11)
    np.testing.assert_array_equal(fa, fb)
    for _ in range(50):
        act = int(rng.integers(3))
        fa, la, _ = a.step(act)
        fb, lb, _ = b.step(act)
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(la, lb)
    starts = {tuple(a.reset(seed=s)[1].tolist()) for s in range(10)}
    assert len(starts) > 1
    # the map depends on the layout seed only (FourRooms draws its gaps at random)
    m0 = MiniGridTask("MiniGrid-FourRooms-v0", layout_seed=0).layout.background
    m0b = MiniGridTask("MiniGrid-FourRooms-v0", layout_seed=0).layout.background
    m1 = MiniGridTask("MiniGrid-FourRooms-v0", layout_seed=1).layout.background
    np.testing.assert_array_equal(m0, m0b)
    assert not np.array_equal(m0, m1)


def test_start_follows_the_env():
    """Fixed start where MiniGrid has one; a seeded random pose where MiniGrid draws one."""
    fixed = MiniGridTask("MiniGrid-Empty-9x9-v0")
    assert not fixed.random_start
    env = fixed.make_env()
    assert {tuple(env.reset(seed=s)[1].tolist()) for s in range(5)} == {(1.0, 1.0, 0.0)}
    rand = MiniGridTask("MiniGrid-Empty-Random-9x9-v0")
    assert rand.random_start and len(rand.states) == 196
    a, b = rand.make_env(), rand.make_env()
    starts_a = [tuple(a.reset(seed=s)[1].tolist()) for s in range(8)]
    starts_b = [tuple(b.reset(seed=s)[1].tolist()) for s in range(8)]
    assert starts_a == starts_b and len(set(starts_a)) > 4
    # unseeded resets continue the env's generator: a new pose each episode, reproducibly
    follow_a = [tuple(a.reset()[1].tolist()) for _ in range(5)]
    follow_b = [tuple(b.reset()[1].tolist()) for _ in range(5)]
    assert follow_a == follow_b and len(set(follow_a)) > 1


def test_sampled_goal_sets_are_seeded():
    task = MiniGridTask("MiniGrid-FourRooms-v0", n_eval_goals=30, n_train_goals=100)
    assert len(task.states) > 1000
    e0, e0b, e1 = task.eval_goals(0), task.eval_goals(0), task.eval_goals(1)
    assert len(e0) == 30 and len(task.train_goals(0)) == 100
    np.testing.assert_array_equal(e0.labels, e0b.labels)
    assert not np.array_equal(e0.labels, e1.labels)
    for frame, lab in zip(e0.frames, e0.labels.astype(int), strict=True):
        np.testing.assert_array_equal(frame, task.goal_frame(*lab))


def test_achieved_and_per_label(room):
    lab = np.array([[3, 4, 1], [3, 4, 1], [3, 5, 1]], dtype=np.float32)
    goal = np.array([[3, 4, 1], [3, 4, 2], [3, 4, 1]], dtype=np.float32)
    assert room.achieved(lab, goal).tolist() == [True, False, False]
    assert room.per_label_achieved(lab, goal).tolist() == [
        [True, True, True],
        [True, True, False],
        [True, False, True],
    ]


def test_trace_follows_plans(room):
    path = room.trace((1, 1, 0), [FORWARD, FORWARD, RIGHT, FORWARD, 3, FORWARD])
    assert path == [(1, 1, 0), (2, 1, 0), (3, 1, 0), (3, 1, 1), (3, 2, 1)]  # stops at END (3)
    assert room.trace((1, 1, 2), [FORWARD]) == [(1, 1, 2), (1, 1, 2)]  # bumps into the wall


def test_bad_input_gives_clear_errors(room):
    with pytest.raises(ValueError, match="not a known MiniGrid id"):
        MiniGridTask("MiniGrid-Nope-v0")
    with pytest.raises(ValueError, match="'door'|'key'"):
        MiniGridTask("MiniGrid-DoorKey-5x5-v0")
    with pytest.raises(ValueError, match="action=3"):
        env = room.make_env()
        env.reset(seed=0)
        env.step(3)
    with pytest.raises(ValueError, match="not a state"):
        room.goal_frame(0, 0, 0)  # a wall


def test_preset_runs_end_to_end(tmp_path):
    from glamor_mini.train import train

    cfg = make_config("minigrid-debug", seed=0, torch_threads=1)
    task = make_task(cfg)
    assert task.frame_shape == (3, 40, 40) and task.frame_stack == 2
    res = train(cfg, tmp_path / "run")
    out = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert out["agent_steps"] == 64 and out["episodes"] == 8
    assert 0.0 <= out["goal_achievement"] <= 1.0 and out["optimal_path_rate"] is not None
    assert (tmp_path / "run" / "eval.png").stat().st_size > 1000
    assert res.eval is not None and res.eval.final_frames.shape == (8, 3, 40, 40)
    cfg_full = make_config("minigrid")
    assert cfg_full.env == "MiniGrid-Empty-Centre-9x9-v0" and cfg_full.encoder == "impala"
