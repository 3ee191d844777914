"""Replay: frames stored once, stacks rebuilt, hindsight relabelling, ring overwrite, state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glamor_mini.replay import ReplayBuffer


def encoded_trajectory(traj_id: int, n_actions: int, rng: np.random.Generator):
    """Frames whose pixels encode (trajectory id, step): frame[0,0,0]=id, frame[0,0,1]=step."""
    frames = np.zeros((n_actions + 1, 1, 2, 3), dtype=np.uint8)
    frames[:, 0, 0, 0] = traj_id
    frames[:, 0, 0, 1] = np.arange(n_actions + 1)
    frames[:, 0, 1, :] = rng.integers(0, 256, size=(n_actions + 1, 3))
    actions = rng.integers(0, 5, size=n_actions)
    return frames, actions


def fill(buf: ReplayBuffer, n_traj: int, seed: int = 0, min_len: int = 1):
    rng = np.random.default_rng(seed)
    store = {}
    for i in range(n_traj):
        n = int(rng.integers(min_len, buf.horizon + 1))
        frames, actions = encoded_trajectory(i % 256, n, rng)
        buf.add_trajectory(frames, actions)
        store[i % 256] = (frames, actions)
    return store


def decode(frame: torch.Tensor) -> tuple[int, int]:
    return int(frame[0, 0, 0]), int(frame[0, 0, 1])


def test_relabelled_tuples_are_consistent():
    T = 6
    buf = ReplayBuffer(500, (1, 2, 3), frame_stack=3, horizon=T, seed=0)
    store = fill(buf, 40)
    batch = buf.sample(2000)
    assert batch.obs.shape == (2000, 3, 2, 3) and batch.goal.shape == (2000, 1, 2, 3)
    assert batch.actions.shape == (2000, T)
    saw_final_k0 = saw_k0 = False
    for b in range(2000):
        tid, t = decode(batch.obs[b, 2:3])
        frames, actions = store[tid]
        k = int(batch.lengths[b])
        gid, gt = decode(batch.goal[b])
        assert gid == tid and gt == t + k, "goal is the observation k steps later, same trajectory"
        assert t + k <= len(actions), "k is clipped to the trajectory end"
        assert np.array_equal(batch.goal[b].numpy(), frames[t + k]), "frames stored exactly"
        assert batch.actions[b, :k].tolist() == actions[t : t + k].tolist()
        assert (batch.actions[b, k:] == -1).all()
        # frame stack: the last `stack` frames, repeating the first frame across the start
        for j, back in enumerate((2, 1, 0)):
            assert np.array_equal(batch.obs[b, j : j + 1].numpy(), frames[max(t - back, 0)])
        saw_k0 |= k == 0
        saw_final_k0 |= t == len(actions)
    assert saw_k0 and saw_final_k0, "k = 0 and the final observation are sampled"


def test_k_is_uniform_before_clipping():
    T = 4
    buf = ReplayBuffer(10_000, (1, 2, 3), horizon=T, seed=1)
    rng = np.random.default_rng(0)
    for i in range(200):  # long trajectories only, so clipping is rare for early t
        buf.add_trajectory(*encoded_trajectory(i % 256, T, rng))
    batch = buf.sample(50_000)
    t = batch.obs[:, 0, 0, 1].long()
    k = batch.lengths[t == 0]  # from the first frame nothing is clipped
    freq = torch.bincount(k, minlength=T + 1).float() / len(k)
    assert torch.allclose(freq, torch.full((T + 1,), 1 / (T + 1)), atol=0.02)


def test_ring_overwrite_never_samples_torn_trajectories():
    T = 5
    buf = ReplayBuffer(37, (1, 2, 3), frame_stack=2, horizon=T, seed=2)
    store = fill(buf, 200, seed=3)
    assert buf.total > 5 * buf.capacity and buf.size <= buf.capacity
    batch = buf.sample(3000)
    for b in range(3000):
        tid, t = decode(batch.obs[b, 1:2])
        gid, gt = decode(batch.goal[b])
        frames, actions = store[tid]
        assert gid == tid and gt == t + int(batch.lengths[b])
        assert np.array_equal(batch.obs[b, 0:1].numpy(), frames[max(t - 1, 0)])
    # only the newest trajectories are left: their ids are the last ones written
    ids = {decode(batch.obs[b, 1:2])[0] for b in range(3000)}
    assert min(ids) >= 200 - 37


def test_state_dict_round_trip_and_steps():
    buf = ReplayBuffer(300, (1, 2, 3), frame_stack=2, horizon=6, seed=4)
    fill(buf, 50, seed=5)
    other = ReplayBuffer(300, (1, 2, 3), frame_stack=2, horizon=6, seed=99)
    other.load_state_dict(buf.state_dict())
    a, b = buf.sample(64), other.sample(64)
    for x, y in zip(
        (a.obs, a.goal, a.actions, a.lengths), (b.obs, b.goal, b.actions, b.lengths), strict=True
    ):
        assert torch.equal(x, y)
    assert buf.n_steps == buf.size - len(buf._starts)
    with pytest.raises(ValueError, match="frame_stack"):
        ReplayBuffer(300, (1, 2, 3), frame_stack=3, horizon=6).load_state_dict(buf.state_dict())


def test_bad_input():
    buf = ReplayBuffer(100, (1, 2, 3), horizon=4)
    with pytest.raises(RuntimeError, match="empty"):
        buf.sample(2)
    with pytest.raises(ValueError, match="actions"):
        buf.add_trajectory(np.zeros((3, 1, 2, 3), np.uint8), np.zeros(3))
    with pytest.raises(ValueError, match="horizon"):
        buf.add_trajectory(np.zeros((6, 1, 2, 3), np.uint8), np.zeros(5))
    with pytest.raises(ValueError, match="uint8"):
        buf.add_trajectory(np.zeros((3, 1, 2, 3), np.float32), np.zeros(2))


def test_each_atari_frame_stored_once():
    buf = ReplayBuffer(64, (1, 104, 80), frame_stack=4, horizon=50)
    assert buf.nbytes_per_step() <= 8.5 * 1024
    assert buf.frames.shape == (64, 1, 104, 80)


# ---------------------------------------------------------------------- ring size (reserve)
def test_ring_frames_of_a_paper_scale_atari_run_without_allocating():
    """The `atari` preset (500k steps, buffer_size 1e6, T = 50, 8 envs) writes at most 500,007
    agent steps in full-length trajectories: 500,007 + 10,001 final frames = 510,008 frames,
    4.25 GB instead of the 8.33 GB of the whole buffer_size."""
    from glamor_mini.replay import replay_bytes, ring_frames
    from glamor_mini.resolve import make_config

    cfg = make_config("atari")
    rows = ring_frames(cfg.total_steps, cfg.buffer_size, cfg.horizon, cfg.n_envs)
    assert rows == 500_007 + 10_001 == 510_008
    assert replay_bytes(rows, (1, 104, 80)) == 510_008 * 8_330  # 4.25e9 bytes
    assert replay_bytes(cfg.buffer_size, (1, 104, 80)) == 8_330_000_000
    assert ring_frames(10**6, 1000, 50, 8) == 1000, "never above buffer_size"
    with pytest.raises(ValueError, match="must all be >= 1"):
        ring_frames(0, 1000, 50)


def test_a_reserved_ring_grows_and_stores_samples_and_saves_as_the_full_one():
    """reserve only delays allocation: with short trajectories (more final frames than the
    estimate) the ring grows, wraps at capacity, and every sample and state equals the fully
    allocated buffer's."""
    full = ReplayBuffer(300, (1, 2, 3), frame_stack=2, horizon=6, seed=3)
    lazy = ReplayBuffer(300, (1, 2, 3), frame_stack=2, horizon=6, seed=3, reserve=40)
    assert lazy.rows == 40 and lazy.frames.shape[0] == 40
    sizes = []
    for n_traj in (10, 30, 200):  # before growing, while growing, after wrapping
        fill(full, n_traj, seed=n_traj)
        fill(lazy, n_traj, seed=n_traj)
        sizes.append(lazy.rows)
        a, b = full.sample(64), lazy.sample(64)
        for x, y in zip(a.__dict__.values(), b.__dict__.values(), strict=True):
            assert torch.equal(x, y)
    assert sizes[0] < sizes[1] <= 300 and sizes[2] == 300, sizes
    sa, sb = full.state_dict(), lazy.state_dict()
    for key in sa:
        assert (
            str(sa[key]) == str(sb[key])
            if not torch.is_tensor(sa[key])
            else torch.equal(sa[key], sb[key])
        ), key


def test_loading_a_state_into_a_small_reserve_grows_it():
    """Resuming: a checkpointed replay of 150 frames loads into a buffer that reserved 20."""
    src = ReplayBuffer(300, (1, 2, 3), frame_stack=2, horizon=6, seed=1)
    fill(src, 40)
    dst = ReplayBuffer(300, (1, 2, 3), frame_stack=2, horizon=6, seed=9, reserve=20)
    dst.load_state_dict(src.state_dict())
    assert dst.rows >= src.total and dst.size == src.size
    a, b = src.sample(32), dst.sample(32)
    assert torch.equal(a.obs, b.obs) and torch.equal(a.actions, b.actions)
