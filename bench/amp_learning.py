"""Benchmark: GLAMOR's training update on Atari at `--scale cpu`, by encoder layout and precision,
with what each variant learns from the same data.

Variants (the `--scale cpu` Pong model: IMPALA 8,16,16, state 256, batch 64, T = 50):
  fp32 NCHW          the IMPALA encoder on contiguous (NCHW) tensors: how it ran before
                     channels-last (encoders.ImpalaEncoder(channels_last=False))
  fp32 NHWC          the default: convolutions and max pools channels-last, GroupNorm NCHW
  bf16 NHWC          Config.amp: the encoders under bfloat16 autocast, the heads in float32
                     (only where models.amp_supported: CUDA, or a CPU with AVX512-BF16 / AMX)
  fp32 NHWC init 1   the default from another initialisation: how far two float32 runs drift
                     apart on the same batches, the yardstick for the others

Every variant starts from initialisation seed 0 (but the last), trains on the SAME batches (one
replay of uniform-random Pong data, its sampling generator reset per variant) and is scored on
the same held-out batches (another replay). Updates are timed in turns (a block of each variant,
then the next block), so a busy machine slows all alike. The speed ratio is per update against
fp32 NCHW; the learning check asks that the held-out loss of each variant stays within the
spread between two float32 initialisations.

Usage:  python bench/amp_learning.py [--updates 240] [--block 20] [--quick]
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import base_parser, print_table, setup, verdict

from glamor_mini.agents import GlamorAgent
from glamor_mini.envs import make_task
from glamor_mini.experiments.table1 import build_jobs
from glamor_mini.models import amp_supported
from glamor_mini.policies import UniformRandomPolicy
from glamor_mini.replay import ReplayBuffer
from glamor_mini.rollout import Collector
from glamor_mini.utils import seed_everything

TARGET_SPEEDUP = 1.5


def cpu_scale_config(game: str, seed: int):
    jobs = build_jobs("atari", [game], ["glamor"], [seed], "cpu")
    return next(j.cfg for j in jobs if j.kind == "train")


def random_replay(task, cfg, steps: int, seed: int) -> ReplayBuffer:
    replay = ReplayBuffer(steps + 1000, task.frame_shape, task.frame_stack, task.horizon, seed=seed)
    col = Collector(
        task,
        cfg.n_envs,
        UniformRandomPolicy(task.n_actions, seed),
        task.eval_goals(0),
        replay,
        seed=seed,
    )
    done = 0
    while done < steps:
        done += col.step()
    col.close()
    return replay


def make_agent(cfg, task, device, init_seed: int, channels_last: bool, amp: bool):
    seed_everything(init_seed)
    agent = GlamorAgent(cfg.replace(amp=amp), task, task.train_goals(cfg.seed), device)
    if not channels_last:
        for enc in (agent.net.obs_encoder, agent.net.goal_encoder):
            enc.channels_last = False
            enc.conv.to(memory_format=torch.contiguous_format)
    agent.train_mode(True)
    return agent


@torch.no_grad()
def held_out_loss(agent, batches) -> float:
    agent.train_mode(False)
    total = 0.0
    for b in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=agent.amp):
            loss, _ = agent.net.loss(b.obs, b.goal, b.actions, b.lengths, alpha=agent.cfg.alpha)
        total += float(loss)
    agent.train_mode(True)
    return total / len(batches)


def main() -> None:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--game", default="Pong")
    p.add_argument("--updates", type=int, default=240, help="updates per variant")
    p.add_argument("--block", type=int, default=20, help="updates per timed turn")
    p.add_argument("--data", type=int, default=6000, help="random agent steps in the replay")
    args = p.parse_args()
    if args.quick:
        args.updates, args.block, args.data = 20, 10, 1500
    device = setup(args)
    cfg = cpu_scale_config(args.game, args.seed)
    task = make_task(cfg)
    t0 = time.perf_counter()
    train = random_replay(task, cfg, args.data, seed=1)
    test = random_replay(task, cfg, max(1000, args.data // 4), seed=2)
    held_out = [test.sample(cfg.batch_size) for _ in range(8)]
    print(
        f"data: {train.size} + {test.size} random {args.game} steps "
        f"({time.perf_counter() - t0:.0f} s)"
    )

    variants = {"fp32 NCHW": (0, False, False), "fp32 NHWC": (0, True, False)}
    if amp_supported(device):
        variants["bf16 NHWC"] = (0, True, True)
    else:
        print(f"bf16: skipped (no native bfloat16 on {device})")
    variants["fp32 NHWC init 1"] = (1, True, False)
    agents = {k: make_agent(cfg, task, device, *v) for k, v in variants.items()}
    gen_state = train.generator.get_state()
    states = {k: gen_state.clone() for k in agents}
    seconds = dict.fromkeys(agents, 0.0)
    curves: dict[str, list[float]] = {k: [held_out_loss(a, held_out)] for k, a in agents.items()}
    blocks = args.updates // args.block
    for i in range(blocks + 1):  # block 0 is a warm-up (kernel set-up), trained but not timed
        for k, agent in agents.items():
            train.generator.set_state(states[k])  # the same batches for every variant
            t = time.perf_counter()
            for _ in range(args.block if i else 2):
                agent.update(agent.sample(train, cfg.batch_size))
            if i:
                seconds[k] += time.perf_counter() - t
            states[k] = train.generator.get_state()
            if i:
                curves[k].append(held_out_loss(agent, held_out))
    n = args.block * blocks
    base = seconds["fp32 NCHW"] / n
    rows = []
    for k in agents:
        per = seconds[k] / n
        c = curves[k]
        rows.append(
            [
                k,
                f"{per * 1000:.0f}",
                f"{base / per:.2f}x",
                f"{c[0]:.2f}",
                f"{c[len(c) // 2]:.2f}",
                f"{c[-1]:.2f}",
            ]
        )
    print(
        f"\n{n + 2} updates per variant ({n} timed), batch {cfg.batch_size}, held-out loss "
        f"(8 batches) at 0 / {n // 2 + 2} / {n + 2} updates"
    )
    print_table(["variant", "ms/update", "speed", "loss 0", "mid", "end"], rows)
    ref = np.array(curves["fp32 NHWC"])
    spread = float(np.abs(np.array(curves["fp32 NHWC init 1"]) - ref)[1:].max())
    for k in agents:
        if k in ("fp32 NHWC", "fp32 NHWC init 1"):
            continue
        gap = float(np.abs(np.array(curves[k]) - ref)[1:].max())
        print(
            f"{k}: largest held-out loss gap to fp32 NHWC {gap:.3f} "
            f"(two fp32 initialisations: {spread:.3f})"
        )
    best = max(base / (seconds[k] / n) for k in agents if k != "fp32 NHWC init 1")
    print(
        verdict(
            f"update speed-up >= {TARGET_SPEEDUP}x over fp32 NCHW",
            best >= TARGET_SPEEDUP,
            f"best {best:.2f}x",
        )
    )


if __name__ == "__main__":
    main()
