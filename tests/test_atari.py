"""Atari suite: preprocessing, RAM labels, goal sets, the 10% rule, replay stacks, the CLI."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

from glamor_mini.envs.atari import (  # noqa: E402
    GAMES,
    AtariSuiteEnv,
    AtariTask,
    save_goal_gif,
    task_from_config,
)
from glamor_mini.envs.atari_labels import ATARI_LABELS  # noqa: E402
from glamor_mini.envs.base import GoalSet  # noqa: E402
from glamor_mini.envs.goals import rollout_ends  # noqa: E402
from glamor_mini.replay import ReplayBuffer  # noqa: E402

# Pong's minimal action set: NOOP, FIRE, RIGHT (paddle up), LEFT (paddle down), ...
UP, DOWN = 2, 3


def small_task(tmp_path=None, game="Pong", **kw) -> AtariTask:
    args = dict(horizon=10, n_train_goals=8, n_eval_goals=5, goal_dir=tmp_path)
    args.update(range_rollouts=8, eval_goal_rollouts=8, train_goal_rollouts=12)
    return AtariTask(game, **{**args, **kw})


def test_label_table_matches_reference():
    assert len(GAMES) == 14
    n_scored = {"Riverraid": 1, "Pong": 4, "Tennis": 6, "Breakout": 3, "Skiing": 2}
    for game, n in n_scored.items():
        assert ATARI_LABELS[game].n_scored == n
    assert ATARI_LABELS["Pong"].scored == dict(ball_x=49, enemy_y=50, player_y=51, ball_y=54)
    assert ATARI_LABELS["Breakout"].other["block_bit_map_29"] == 29
    for spec in ATARI_LABELS.values():
        assert len(set(spec.names)) == len(spec.names)
        assert all(0 <= i < 128 for i in spec.ram_index)


def test_unknown_game_and_missing_extra(monkeypatch):
    with pytest.raises(ValueError, match="supported: Bowling, Boxing"):
        AtariTask("Pongg")
    monkeypatch.setitem(sys.modules, "ale_py", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'glamor-mini\[atari\]'"):
        AtariSuiteEnv("Pong")


def test_preprocessing_shapes_dtypes_and_life_loss():
    env = AtariSuiteEnv("Breakout", sticky=0.0)
    frame, labels = env.reset(seed=0)
    assert frame.shape == (1, 104, 80) and frame.dtype == np.uint8
    assert labels.shape == (len(ATARI_LABELS["Breakout"].names),) and labels.dtype == np.float32
    assert frame.max() > frame.min(), "a real picture, not a blank frame"
    env.step(1)  # FIRE launches the ball; doing nothing after that loses a life
    lives = env.ale.lives()
    for t in range(400):  # noqa: B007
        frame, labels, ended = env.step(0)
        if ended:
            break
    assert ended and t > 5, "the trajectory ends when the ball is lost"
    assert env.ale.lives() == lives - 1 and not env.ale.game_over()
    frame, _ = env.reset()
    assert env.ale.lives() == lives, "every reset starts a new game"


def test_frame_is_the_max_of_the_last_two_raw_frames_halved():
    """Our step == the paper's preprocessing written out by hand on a twin emulator: 4 raw frames
    of the same action, pixel-wise max of frames 3 and 4, rows 1..208, 2x2 mean (to +-1 for
    cv2's rounding), RAM labels of the same state."""
    env, twin = AtariSuiteEnv("Seaquest", sticky=0.0), AtariSuiteEnv("Seaquest", sticky=0.0)
    env.reset(seed=5)
    twin.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(40):
        a = int(rng.integers(env.n_actions))
        frame, labels, _ = env.step(a)
        raw = []
        for _ in range(4):
            twin.ale.act(twin.action_set[a])
            raw.append(twin.ale.getScreenGrayscale().astype(np.float64))
        pooled = np.maximum(raw[2], raw[3])[1:209]
        expected = pooled.reshape(104, 2, 80, 2).mean(axis=(1, 3))
        assert np.abs(frame[0] - expected).max() <= 1.0
        ram = twin.ale.getRAM()
        idx = list(ATARI_LABELS["Seaquest"].ram_index)
        assert np.array_equal(labels, ram[idx].astype(np.float32))


def test_pong_player_y_moves_the_right_way():
    env = AtariSuiteEnv("Pong", sticky=0.0, noop_max=0)
    ys = {}
    for action in (UP, DOWN):
        _, labels = env.reset(seed=0)
        y0 = labels[2]
        for _ in range(6):
            _, labels, _ = env.step(action)
        ys[action] = labels[2]
    assert ys[UP] < y0 < ys[DOWN], "UP lowers player_y (screen rows grow downward), DOWN raises"


def test_same_seed_same_trajectory_sticky_actions_on():
    a, b = AtariSuiteEnv("Seaquest"), AtariSuiteEnv("Seaquest")
    fa, la = a.reset(seed=3)
    fb, lb = b.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(30):
        act = int(rng.integers(a.n_actions))
        fa, la, ea = a.step(act)
        fb, lb, eb = b.step(act)
        assert np.array_equal(fa, fb) and np.array_equal(la, lb) and ea == eb


def paddle_row(frames: np.ndarray) -> np.ndarray:
    """Mean row of the right (player) paddle in 104x80 Pong frames; nan when not fully seen."""
    strip = frames[:, 0, 18:94, 70:72].astype(int)
    mask = (np.abs(strip - 87) > 20).all(axis=2)  # 87 = background gray
    rows = np.arange(18, 94)[None]
    n = mask.sum(1)
    return np.where(n >= 6, (mask * rows).sum(1) / np.maximum(n, 1), np.nan)


def every_state(task: AtariTask, n_episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (M, 1, 104, 80) and labels (M, L) of every state of random episodes of length T."""
    env, rng = task.make_env(), np.random.default_rng(seed)
    frames, labels = [], []
    for ep in range(n_episodes):
        f, lab = env.reset(seed=seed * 1000 + ep)
        frames.append(f)
        labels.append(lab)
        for _ in range(task.horizon):
            f, lab, ended = env.step(int(rng.integers(task.n_actions)))
            frames.append(f)
            labels.append(lab)
            if ended:
                break
    return np.stack(frames), np.stack(labels)


def test_goal_image_and_labels_come_from_the_same_state(tmp_path):
    task = small_task(tmp_path, horizon=25)
    frames, labels = every_state(task, 6, seed=1)
    y_pix, y_ram = paddle_row(frames), labels[:, 2]

    def fit_error(x, y):
        ok = ~np.isnan(x) & ~np.isnan(y)
        coef = np.polyfit(x[ok], y[ok], 1)
        return np.abs(np.polyval(coef, x[ok]) - y[ok]).mean(), ok.sum()

    same, n = fit_error(y_pix, y_ram)
    shifted, _ = fit_error(y_pix[:-1], y_ram[1:])  # the authors' off-by-one pairing
    assert n > 50
    assert same < 3 and shifted > 4 * same, (same, shifted)  # ~1 pixel vs several
    # each goal is the final (frame, labels) pair of one of seed 0's evaluation rollouts
    goals = task.eval_goals(0)
    keep = lambda env, frame, rs: frame.copy()  # noqa: E731
    ends = rollout_ends(
        task.make_env(), task.n_actions, 8, 25, 2, keep=keep, min_full=5, reseed=False
    )
    for f, lab in zip(goals.frames, goals.labels, strict=True):
        rows = [i for i, p in enumerate(ends.payloads) if np.array_equal(p, f)]
        assert any(ends.full[r] and np.array_equal(ends.labels[r], lab) for r in rows)


def test_goal_sets_deterministic_saved_and_reused(tmp_path):
    t1, t2 = small_task(tmp_path / "a"), small_task(None)
    g1, g2 = t1.eval_goals(0), t2.eval_goals(0)
    assert g1.frames.shape == (5, 1, 104, 80) and g1.labels.shape == (5, 8)
    assert np.array_equal(g1.frames, g2.frames) and np.array_equal(g1.labels, g2.labels)
    assert np.array_equal(t1.ranges(0), t2.ranges(0)) and np.array_equal(g1.ranges, t2.ranges())
    assert not np.array_equal(t2.eval_goals(1).labels, g1.labels), "another seed, other goals"
    tr = t1.train_goals(0)
    assert len(tr) == 8 and np.array_equal(tr.labels, small_task(None).train_goals(0).labels)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [
        "atari-Pong-h10-seed0-eval5-of8-r8.npz",
        "atari-Pong-h10-seed0-train8-of12-r8.npz",
    ]
    path = tmp_path / "a" / names[0]
    mtime = path.stat().st_mtime_ns
    t3 = small_task(tmp_path / "a")
    assert np.array_equal(t3.eval_goals(0).frames, g1.frames)
    assert path.stat().st_mtime_ns == mtime, "the saved goals were reused, not rebuilt"
    path.write_bytes(b"torn")
    with pytest.raises(ValueError, match="delete it to rebuild"):
        small_task(tmp_path / "a").eval_goals(0)


def test_ten_percent_rule_on_hand_made_labels():
    task = small_task(None)
    L = len(task.label_names)
    ranges = np.full(L, 100.0, dtype=np.float32)
    ranges[0] = 50.0  # ball_x: 10% = 5
    frame = np.zeros((1, 1, 104, 80), np.uint8)
    task._goal_sets()[("eval", task.seed)] = GoalSet(frame, np.zeros((1, L), np.float32), ranges)
    goal = np.full((4, L), 100.0, dtype=np.float32)
    final = goal.copy()
    final[0, 0] += 4.9  # within 10% of ball_x's range
    final[1, 0] += 5.0  # exactly 10%: not achieved (strict <)
    final[2, 2] -= 9.99  # player_y within 10% of 100
    final[2, 4:] += 90  # unscored labels (scores, x of paddles) do not count
    final[3, 3] += 10.0  # ball_y off by exactly 10
    assert task.achieved(final, goal).tolist() == [True, False, True, False]
    # another goal set's ranges, when given, decide instead of the task seed's
    assert task.achieved(final, goal, ranges=2 * ranges).tolist() == [True, True, True, True]
    per = task.per_label_achieved(final, goal)
    assert per.shape == (4, L) and per[1].tolist() == [False] + [True] * (L - 1)
    assert not per[2, 4:].any() and per[2, :4].all()


def test_replay_rebuilds_atari_stacks_across_a_trajectory_start():
    env = AtariSuiteEnv("Pong")
    trajs = []
    for seed in (0, 1):
        f, _ = env.reset(seed=seed)
        frames = [f]
        for _ in range(6):
            frames.append(env.step(UP if seed else DOWN)[0])
        trajs.append(np.stack(frames))
    buf = ReplayBuffer(20, (1, 104, 80), frame_stack=4, horizon=6)
    for t in trajs:
        buf.add_trajectory(t, np.zeros(6, dtype=int))
    start2 = 7  # absolute position of the second trajectory's first frame
    for t in range(4):
        stack = buf.stack_at(torch.tensor([start2 + t]))[0].numpy()
        want = np.concatenate([trajs[1][max(t - b, 0)] for b in (3, 2, 1, 0)])
        assert np.array_equal(stack, want), (
            f"stack at t={t} repeats the first frame, never trajectory 1"
        )
    assert buf.nbytes_per_step() <= 8500


def test_vec_env_and_gif(tmp_path):
    task = small_task(None)
    vec = task.make_vec_env(3, seed=0)
    frames, labels = vec.reset_slots([0, 1, 2], [5, 6, 7])
    assert frames.shape == (3, 1, 104, 80) and labels.shape == (3, 8)
    frames, labels, ended = vec.step(np.array([0, UP, DOWN]))
    assert frames.dtype == np.uint8 and ended.dtype == bool and ended.shape == (3,)
    vec.close()
    from PIL import Image

    path = tmp_path / "ep.gif"
    save_goal_gif(frames[0], np.stack([frames[1], frames[2]]), path, achieved=True, fps=2)
    with Image.open(path) as im:
        assert im.n_frames == 2 and im.size == ((80 * 2 + 4) * 3, 104 * 3)


def test_subprocess_vec_env_on_many_cores_steps_like_the_serial_one(workers_match_serial):
    """Above 2 cores the envs run in worker processes; same seeds, same frames and labels."""
    workers_match_serial(small_task(None), [UP, DOWN], steps=3)


def test_atari_debug_runs_end_to_end_via_cli(tmp_path, capsys):
    from glamor_mini.resolve import make_config
    from glamor_mini.run import main

    cfg = make_config("atari-debug")
    assert cfg.suite == "atari" and cfg.encoder == "impala" and cfg.frame_stack == 4
    assert make_config("atari").lr == 5e-4 and make_config("atari").horizon == 50
    task = task_from_config(cfg.replace(goal_dir=""))
    assert task.frame_shape == (1, 104, 80) and task.n_actions == 6
    out = tmp_path / "run"
    args = ["atari-debug", "--out", str(out), "--goal_dir", str(tmp_path / "g"), "--torch_threads"]
    assert main([*args, "1"]) == 0
    res = json.loads((out / "eval.json").read_text())
    assert res["agent_steps"] == 64 and res["episodes"] == 4
    assert set(res["per_label"]) == set(ATARI_LABELS["Pong"].names)
    for name in ("eval.png", "episode.gif", "ckpt.pt", "config.json"):
        assert (out / name).exists(), name
