"""Benchmark: hindsight-relabelled sampling speed and memory of the frame-once replay buffer.

Targets (issue):
  * grid shapes: relabelled tuples per second from `sample(200)` with T = 50: >= 20k/s;
  * Atari shapes (1x104x80 frames, stack 4, T = 50): each frame stored once, bytes per stored agent
    step <= 8.5 KB (so 1e6 steps fit in <= 8.5 GB of RAM); sampling speed reported.

A straightforward per-sample Python loop sampler (same distribution: t uniform over the intact
window, k ~ U{0..T} clipped to the trajectory end) runs on the same buffers as a reference point.
KB, MB, GB are decimal (1e3, 1e6, 1e9 bytes).

Usage:  python bench/replay.py [--device auto] [--repeats 5] [--quick] [--capacity 200000]
"""

from __future__ import annotations

import gc
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
from common import base_parser, print_table, setup, time_call, time_interleaved, verdict

from glamor_mini.replay import Batch, ReplayBuffer

BATCH = 200
HORIZON = 50
TARGET_TUPLES_PER_S = 20_000.0
TARGET_BYTES_PER_STEP = 8_500.0
N_ACTIONS = 18


# ----------------------------------------------------------------------------------- helpers


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def storage_bytes(buf: ReplayBuffer) -> int:
    """Bytes held by the buffer's tensors (summed over their storages)."""
    tensors = (buf.frames, buf.actions, buf.to_start, buf.to_end)
    return sum(t.untyped_storage().nbytes() for t in tensors)


def fill(buf: ReplayBuffer, seed: int, pool_size: int = 8) -> int:
    """Write full-length random trajectories (T actions, T + 1 frames) until the ring has wrapped.

    A small pool of random trajectories is reused: filling speed is not the point here.
    Returns the number of trajectories written.
    """
    rng = np.random.default_rng(seed)
    shape = (HORIZON + 1, *buf.frame_shape)
    pool = [
        (
            torch.from_numpy(rng.integers(0, 256, size=shape, dtype=np.uint8)),
            torch.from_numpy(rng.integers(0, N_ACTIONS, size=HORIZON, dtype=np.int64)),
        )
        for _ in range(pool_size)
    ]
    n = 0
    while buf.total < buf.capacity + HORIZON + 1:
        frames, actions = pool[n % pool_size]
        buf.add_trajectory(frames, actions)
        n += 1
    return n


def loop_sample(buf: ReplayBuffer, batch_size: int, rng: random.Random) -> Batch:
    """The straightforward sampler: one relabelled tuple at a time in Python."""
    cap, stack, horizon = buf.capacity, buf.frame_stack, buf.horizon
    lo = buf.total - buf.size  # absolute position of the oldest intact trajectory
    obs_l, goal_l, acts_l, k_l = [], [], [], []
    for _ in range(batch_size):
        t = lo + rng.randrange(buf.size)
        slot = t % cap
        k = min(rng.randint(0, horizon), int(buf.to_end[slot]))
        back = int(buf.to_start[slot])
        frames = [buf.frames[(t - min(j, back)) % cap] for j in range(stack - 1, -1, -1)]
        obs_l.append(torch.cat(frames, dim=0))
        goal_l.append(buf.frames[(t + k) % cap])
        acts = torch.full((horizon,), -1, dtype=torch.long)
        for j in range(k):
            acts[j] = int(buf.actions[(t + j) % cap])
        acts_l.append(acts)
        k_l.append(k)
    return Batch(torch.stack(obs_l), torch.stack(goal_l), torch.stack(acts_l), torch.tensor(k_l))


def check_batch(b: Batch, buf: ReplayBuffer) -> None:
    c, h, w = buf.frame_shape
    assert b.obs.shape == (BATCH, buf.frame_stack * c, h, w) and b.obs.dtype == torch.uint8
    assert b.goal.shape == (BATCH, c, h, w) and b.goal.dtype == torch.uint8
    assert b.actions.shape == (BATCH, buf.horizon) and b.actions.dtype == torch.long
    assert b.lengths.shape == (BATCH,)
    assert bool(((b.lengths >= 0) & (b.lengths <= buf.horizon)).all())
    steps = torch.arange(buf.horizon).unsqueeze(0)
    inside = steps < b.lengths.unsqueeze(1)
    assert bool((b.actions[inside] >= 0).all()) and bool((b.actions[~inside] == -1).all())


def time_sampling(
    buf: ReplayBuffer, device: torch.device, repeats: int, calls: int, loop_calls: int, seed: int
) -> tuple[float, float, Batch]:
    """-> (seconds per vectorised sample(BATCH), seconds per loop sample, one vectorised batch)."""
    cpu = torch.device("cpu")  # sampling runs on the CPU whatever the device
    rng = random.Random(seed)
    (t_vec, t_loop), (_, b_loop) = time_interleaved(
        [
            lambda: [buf.sample(BATCH) for _ in range(calls)],
            lambda: [loop_sample(buf, BATCH, rng) for _ in range(loop_calls)],
        ],
        cpu,
        repeats,
    )
    b_vec = buf.sample(BATCH)
    check_batch(b_vec, buf)
    check_batch(b_loop[-1], buf)
    return t_vec / calls, t_loop / loop_calls, b_vec


def time_transfer(batch: Batch, device: torch.device, repeats: int) -> str:
    if device.type != "cuda":
        return "Batch.to(device): skipped (device is CPU)"
    nbytes = sum(t.numel() * t.element_size() for t in (batch.obs, batch.goal, batch.actions))
    t, _ = time_call(lambda: batch.to(device), device, repeats, warmup=2)
    return (
        f"Batch.to({device}): {t * 1e3:.2f} ms for {nbytes / 1e6:.1f} MB "
        f"({nbytes / t / 1e9:.1f} GB/s, pageable memory)"
    )


# ----------------------------------------------------------------------------------- main


@dataclass
class CaseResult:
    name: str
    capacity: int
    trajectories: int
    t_vec: float  # seconds per vectorised sample(BATCH)
    t_loop: float  # seconds per loop sample(BATCH)
    frames_shape: tuple[int, ...]
    frame_bytes: int  # one stored frame
    per_slot: float  # nbytes_per_step(): frame + action + offsets
    storage: int  # bytes held by the buffer's tensors
    rss_growth: int  # process RSS growth while creating and filling the buffer
    size: int  # frames held in intact trajectories
    n_steps: int  # agent steps held
    transfer: str

    @property
    def rate(self) -> float:
        return BATCH / self.t_vec


def run_case(
    name: str,
    capacity: int,
    frame_shape: tuple[int, int, int],
    stack: int,
    device: torch.device,
    repeats: int,
    calls: int,
    loop_calls: int,
    seed: int,
) -> CaseResult:
    gc.collect()
    rss0 = rss_bytes()
    buf = ReplayBuffer(capacity, frame_shape, frame_stack=stack, horizon=HORIZON, seed=seed)
    n_traj = fill(buf, seed)
    gc.collect()
    rss1 = rss_bytes()
    t_vec, t_loop, batch = time_sampling(buf, device, repeats, calls, loop_calls, seed)
    return CaseResult(
        name=name,
        capacity=capacity,
        trajectories=n_traj,
        t_vec=t_vec,
        t_loop=t_loop,
        frames_shape=tuple(buf.frames.shape),
        frame_bytes=buf.frames[0].numel() * buf.frames.element_size(),
        per_slot=buf.nbytes_per_step(),
        storage=storage_bytes(buf),
        rss_growth=rss1 - rss0,
        size=buf.size,
        n_steps=buf.n_steps,
        transfer=time_transfer(batch, device, repeats),
    )


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="Atari buffer capacity in frames (default 200000, 20000 with --quick; "
        "1e6 needs ~8.3 GB of RAM)",
    )
    args = parser.parse_args()
    device = setup(args)
    repeats = min(args.repeats, 2) if args.quick else args.repeats
    grid_cap = 10_000 if args.quick else 100_000
    atari_cap = args.capacity or (20_000 if args.quick else 200_000)
    calls, loop_calls = (5, 1) if args.quick else (20, 2)

    print(
        f"Replay: hindsight-relabelled sample({BATCH}) with T = {HORIZON}; buffers filled with "
        f"random full-length trajectories\n({HORIZON} actions, {HORIZON + 1} frames each) until "
        "the ring wrapped. Sampling runs on the CPU; ms = median per sample() call."
    )
    common = (device, repeats, calls, loop_calls, args.seed)
    grid = run_case("grid 2x9x9", grid_cap, (2, 9, 9), 1, *common)
    atari = run_case("atari 1x104x80 x4", atari_cap, (1, 104, 80), 4, *common)

    print()
    print_table(
        [
            "case", "capacity", "trajectories", "sample ms", "tuples/s",
            "loop ms", "loop tuples/s", "speed-up",
        ],
        [
            [
                r.name, f"{r.capacity:,}", f"{r.trajectories:,}", f"{r.t_vec * 1e3:.2f}",
                f"{r.rate:,.0f}", f"{r.t_loop * 1e3:.1f}", f"{BATCH / r.t_loop:,.0f}",
                f"{r.t_loop / r.t_vec:.1f}x",
            ]
            for r in (grid, atari)
        ],
    )  # fmt: skip
    print("loop: a per-sample Python loop sampler on the same buffer (reference point).")
    print(atari.transfer)

    # ---- memory, Atari shapes
    per_slot = atari.per_slot
    frames_per_step = (HORIZON + 1) / HORIZON  # each full trajectory also stores its final frame
    per_step = per_slot * frames_per_step
    naive_slot = 4 * atari.frame_bytes + (per_slot - atari.frame_bytes)
    naive_step = naive_slot * frames_per_step
    storage_slot = atari.storage / atari.capacity
    print(
        f"\nAtari memory (capacity {atari.capacity:,} frames; held: {atari.size:,} frames, "
        f"{atari.n_steps:,} agent steps). Per agent step = per slot x {HORIZON + 1}/{HORIZON}:\n"
        "each full-length trajectory also stores its final frame (shorter episodes cost more)."
    )
    print_table(
        ["layout", "B / frame slot", "B / agent step"],
        [
            ["nbytes_per_step() (frame once)", f"{per_slot:,.1f}", f"{per_step:,.1f}"],
            ["measured: tensor storage / capacity", f"{storage_slot:,.1f}", "-"],
            ["measured: storage / agent steps held", "-", f"{atari.storage / atari.n_steps:,.1f}"],
            ["measured: RSS growth / capacity", f"{atari.rss_growth / atari.capacity:,.1f}", "-"],
            ["naive: 4-frame stack every step", f"{naive_slot:,.1f}", f"{naive_step:,.1f}"],
        ],
    )
    gb_1e6 = per_step * 1e6 / 1e9
    print(
        f"1e6 agent steps: {gb_1e6:.2f} GB (frame once) vs {naive_step * 1e6 / 1e9:.2f} GB "
        f"(naive); naive / frame-once = {naive_step / per_step:.2f}x"
    )
    print(f"Atari sampling: {atari.rate:,.0f} tuples/s (no numeric target; reported)")
    print()
    print(
        verdict(
            f"target >= {TARGET_TUPLES_PER_S / 1e3:.0f}k tuples/s (grid, batch {BATCH}, "
            f"T={HORIZON})",
            grid.rate >= TARGET_TUPLES_PER_S,
            f"{grid.rate:,.0f}/s",
        )
    )
    once = atari.frames_shape == (atari.capacity, 1, 104, 80) and storage_slot <= per_slot + 1
    print(
        verdict(
            "target: each 104x80 frame stored once",
            once,
            f"frames tensor {atari.frames_shape}, {storage_slot:,.1f} B per slot",
        )
    )
    print(
        verdict(
            f"target <= {TARGET_BYTES_PER_STEP / 1e3:.1f} KB per stored agent step (Atari)",
            per_step <= TARGET_BYTES_PER_STEP and once,
            f"{per_step:,.1f} B; 1e6 steps = {gb_1e6:.2f} GB",
        )
    )


if __name__ == "__main__":
    main()
