"""The on-device check in one script: what a 500k-step Atari run will cost.

    python bench/gpu.py [OUT_DIR] [--device auto] [--quick] [--seconds 180] [--threads 0]

Prints every number and writes OUT_DIR/gpu_bench.json:
  * device: its name (and torch / CUDA versions);
  * planner: ms per plan at N = 50 / 200 / 1000 (T = 50, one start state, IMPALA model at the
    paper's size), on the device (its default loop) and on the CPU (a copy of the model);
  * updates: `atari`-preset training updates/s (paper network, batch 200, T = 50: the Eq. 9 loss,
    backward, grad-norm clip 1.0 and an AdamW step on random uint8 batches of the preset's
    shapes), in float32 and (CUDA) with the encoders in bf16; host-device syncs per update,
    counted with utils.HostReadCounter, for that update and for agents.GlamorAgent.update;
  * collection: agent steps/s with K = cores - 1 Pong envs (subprocesses above 2 cores) and the
    planner batched across the K envs: open-loop epsilon-greedy collection (a plan per episode)
    and closed-loop acting (a plan per step, as evaluation does);
  * run: `--seconds` of Algorithm 1 on Pong at paper scale (collect with K envs, store whole
    trajectories in a replay on the device, update at the preset's replay ratio from the first
    trajectory on): agent steps/s, updates/s, peak GPU memory, and the share of wall time in env
    stepping / acting (planning included) / updates; an estimate of a 500k-step run's wall time.

The run section is the bench's own loop, not train.Trainer, so its estimate is that of the
steady state of a default `atari` run (python -m glamor_mini.run atari), which differs in:
  - updates from the first trajectory on: a default run first collects learning_starts (50k)
    steps without updates, so its first 10% of steps go faster than estimated;
  - epsilon fixed at 0.5 (a default run decays it 1.0 -> 0.1 over 300k steps; open-loop
    collection plans once per episode whatever epsilon is, so this moves little);
  - K = cores - 1 envs (--envs) instead of the preset's n_envs = 8;
  - no evaluation: a default run also evaluates closed-loop every 50k steps (30 goals x
    eval_episodes, up to T = 50 steps each); `eval_upper_bound_minutes` prices that at the
    collection section's closed-loop rate (run "collection" too);
  - no checkpoints, progress.csv or TensorBoard (weights-only checkpoints every 50k steps);
  - a replay ring of at most 300k frames: the default run's ring (replay.ring_frames, 510,008
    frames, 4.25 GB on the device) is reported as `default_ring_gib`; add it to the peak memory;
  - the encoders in the preset's precision (Config.amp, float32 by default; --amp: bf16, as
    `--set amp=true` would run);
  - one run alone on the device (Table 1 puts 1 / --gpus_per_run runs on each GPU, sharing it).
The JSON's run.differs_from_default_run lists these with this run's values.

--quick: a tiny model, T = 8, a few steps of everything (about a minute on a CPU); the test
suite runs `--device cpu --quick` so the script cannot rot (on a machine without a GPU, `make bench`
gets that mode too). OUT_DIR defaults to runs/bench_gpu. Sections that need ale-py are
reported as skipped when it is missing. Without a GPU, a per-run cost estimate at the paper's sizes:

    python bench/gpu.py OUT --device cpu --paper-on-cpu --sections updates collection \
        --update-steps 3 --collect-seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from glamor_mini.models import GlamorModel, build_model, set_cuda_precision  # noqa: E402
from glamor_mini.planner import PlannerSettings, plan  # noqa: E402
from glamor_mini.policies import (  # noqa: E402
    ClosedLoopPolicy,
    EpsilonGreedy,
    OpenLoopPolicy,
    to_host,
)
from glamor_mini.replay import Batch, ReplayBuffer, replay_bytes, ring_frames  # noqa: E402
from glamor_mini.resolve import make_config  # noqa: E402
from glamor_mini.utils import HostReadCounter, resolve_device  # noqa: E402

FRAME = (1, 104, 80)  # an Atari frame after the suite's preprocessing
STACK = 4


def sizes(quick: bool, update_steps: int = 0, amp: bool = False) -> SimpleNamespace:
    """The paper's sizes (the `atari` preset), or tiny ones for --quick; amp=True: encoders in
    bf16 on CUDA (as Config.amp=True), else the preset's setting."""
    cfg = make_config("atari-debug" if quick else "atari")
    if amp:
        cfg = cfg.replace(amp=True)
    return SimpleNamespace(
        cfg=cfg,
        horizon=8 if quick else 50,
        batch=8 if quick else cfg.batch_size,
        plan_ns=(8, 16, 32) if quick else (50, 200, 1000),
        n_actions=18,
        update_steps=update_steps or (3 if quick else 30),
        plan_repeats=2 if quick else 5,
        phase_steps=12 if quick else None,
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Best of `repeats` calls after one warm-up, in seconds."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def model_for(s: SimpleNamespace, n_actions: int, device: torch.device) -> GlamorModel:
    torch.manual_seed(0)
    obs_shape = (FRAME[0] * STACK, *FRAME[1:])
    return build_model(s.cfg, obs_shape, FRAME, n_actions).to(device)


def random_frames(n: int, device: torch.device, channels: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    x = torch.randint(0, 256, (n, channels, *FRAME[1:]), dtype=torch.uint8, generator=g)
    return x.to(device)


# ----------------------------------------------------------------------------------- sections


def section_planner(s: SimpleNamespace, device: torch.device) -> dict:
    """ms per plan, one start state, on the device and on the CPU."""
    out: dict[str, Any] = {"T": s.horizon, "B": 1}
    models = {"device": model_for(s, s.n_actions, device).eval()}
    if device.type != "cpu":
        models["cpu"] = model_for(s, s.n_actions, torch.device("cpu")).eval()
    for where, model in models.items():
        dev = next(model.parameters()).device
        obs, goal = random_frames(1, dev, STACK), random_frames(1, dev)
        gen = torch.Generator(device=dev).manual_seed(0)
        for n in s.plan_ns:
            st = PlannerSettings(n_candidates=n)
            sec = timed(lambda: plan(model, obs, goal, s.horizon, st, gen), dev, s.plan_repeats)  # noqa: B023
            out[f"{where}_ms_N{n}"] = sec * 1e3
    if "cpu" in models:
        out.update(
            {f"speedup_N{n}": out[f"cpu_ms_N{n}"] / out[f"device_ms_N{n}"] for n in s.plan_ns}
        )
    return out


def random_batch(s: SimpleNamespace, device: torch.device, n_actions: int) -> Batch:
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(0, s.horizon + 1, (s.batch,), generator=g)
    acts = torch.randint(0, n_actions, (s.batch, s.horizon), generator=g)
    acts = torch.where(torch.arange(s.horizon) < lengths[:, None], acts, -1)
    obs, goal = random_frames(s.batch, device, STACK), random_frames(s.batch, device)
    return Batch(obs, goal, acts.to(device), lengths.to(device))


def make_update(model: GlamorModel, opt: torch.optim.Optimizer, clip: float = 1.0):
    def update(b: Batch) -> None:
        loss, _ = model.loss(b.obs, b.goal, b.actions, b.lengths)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()

    return update


def section_updates(s: SimpleNamespace, device: torch.device) -> dict:
    """updates/s of the Eq. 9 loss + AdamW at the preset's network and batch."""
    out: dict[str, Any] = {"batch": s.batch, "T": s.horizon}
    # on a GPU count only reads of device tensors (syncs); on a CPU every read is counted, e.g.
    # AdamW's .item() on its per-parameter step counters (CPU tensors on a GPU too: no sync)
    device_only = device.type != "cpu"
    out["counted"] = "device reads (syncs)" if device_only else "all host reads (CPU run)"
    b = random_batch(s, device, s.n_actions)
    for amp in (False, True) if device.type == "cuda" else (False,):
        model = model_for(s, s.n_actions, device).train()
        model.amp = amp
        opt = torch.optim.AdamW(model.parameters(), lr=s.cfg.lr, weight_decay=s.cfg.weight_decay)
        update = make_update(model, opt)
        for _ in range(2):
            update(b)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(s.update_steps):
            update(b)
        sync(device)
        out["updates_per_s" + ("_amp" if amp else "")] = s.update_steps / (time.perf_counter() - t0)
        tag = "_amp" if amp else ""
        model.zero_grad(set_to_none=True)
        with HostReadCounter(device_only) as fwd:
            loss, _ = model.loss(b.obs, b.goal, b.actions, b.lengths)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        with HostReadCounter(device_only) as step:
            opt.step()
        out["syncs_loss_backward_clip" + tag] = fwd.count
        out["host_reads_optimizer_step" + tag] = step.count
    try:  # the trainer's update, as the agent does it (its NaN check reads the loss once)
        from glamor_mini.agents import GlamorAgent

        task = SimpleNamespace(frame_shape=FRAME, frame_stack=STACK, n_actions=s.n_actions)
        cfg = s.cfg.replace(horizon=s.horizon)
        agent = GlamorAgent(cfg, task, None, device)
        agent.update(b)
        with HostReadCounter(device_only) as counter:
            agent.update(b)
        out["agent_update_reads"] = counter.count
        out["agent_update_read_calls"] = {c: counter.calls.count(c) for c in set(counter.calls)}
    except Exception as err:  # noqa: BLE001 - report, do not stop the other sections
        out["agent_update_reads"] = f"unavailable: {type(err).__name__}: {err}"
    return out


class Rollout:
    """K envs (subprocesses above 2 cores) acting toward fixed goal frames, trajectories of at
    most T steps written whole to a replay buffer on the device (when one is given)."""

    def __init__(self, task, k: int, horizon: int, goals: np.ndarray, replay=None, seed: int = 0):
        self.vec = task.make_vec_env(k, seed)
        self.k, self.T, self.goals, self.replay = k, horizon, torch.from_numpy(goals), replay
        frames, _ = self.vec.reset_slots(list(range(k)), [seed * 100 + i for i in range(k)])
        self.stack = np.repeat(frames, STACK, axis=1)
        self.t = np.zeros(k, dtype=np.int64)
        self.new = np.ones(k, dtype=bool)
        self.traj_frames = [[f] for f in frames]
        self.traj_actions: list[list[int]] = [[] for _ in range(k)]
        self.goal_idx = np.arange(k) % len(goals)
        self.clock = {"act": 0.0, "env": 0.0, "store": 0.0}

    def step(self, policy, device: torch.device) -> int:
        t0 = time.perf_counter()
        actions, _ = policy.act(
            torch.arange(self.k),
            torch.from_numpy(self.stack),
            self.goals[self.goal_idx],
            torch.from_numpy(self.T - self.t),
            torch.from_numpy(self.new),
        )
        a, _ = to_host(actions, torch.zeros_like(actions, dtype=torch.bool))
        t1 = time.perf_counter()
        frames, _, ended = self.vec.step(a)
        t2 = time.perf_counter()
        self.stack = np.concatenate([self.stack[:, FRAME[0] :], frames], axis=1)
        self.t += 1
        self.new[:] = False
        done = ended | (self.t >= self.T)
        for i in range(self.k):
            self.traj_frames[i].append(frames[i])
            self.traj_actions[i].append(int(a[i]))
        for i in np.flatnonzero(done):
            if self.replay is not None:
                self.replay.add_trajectory(np.stack(self.traj_frames[i]), self.traj_actions[i])
            f, _ = self.vec.reset_slots([int(i)], [None])
            self.stack[i] = np.repeat(f[0], STACK, axis=0)
            self.traj_frames[i], self.traj_actions[i] = [f[0]], []
            self.t[i], self.new[i] = 0, True
            self.goal_idx[i] = (self.goal_idx[i] + self.k) % len(self.goals)
        t3 = time.perf_counter()
        self.clock["act"] += t1 - t0
        self.clock["env"] += t2 - t1
        self.clock["store"] += t3 - t2
        return self.k

    def close(self) -> None:
        self.vec.close()


def pong_task(s: SimpleNamespace):
    from glamor_mini.envs import make_task

    return make_task(s.cfg.replace(horizon=s.horizon))


def goal_frames(task, n: int) -> np.ndarray:
    """Goal frames from a short random rollout (their content does not change any cost)."""
    env = task.make_env()
    frames = [env.reset(seed=0)[0]]
    rng = np.random.default_rng(0)
    for _ in range(n - 1):
        frame, _, ended = env.step(int(rng.integers(task.n_actions)))
        frames.append(frame)
        if ended:
            frames[-1] = env.reset()[0]
    getattr(env, "close", lambda: None)()
    return np.stack(frames)


def policies(s, model, k: int, n_actions: int, device: torch.device):
    gen = torch.Generator(device=device).manual_seed(0)
    collect = PlannerSettings.from_config(s.cfg, collect=True)
    open_loop = OpenLoopPolicy(model, collect, k, s.horizon, gen, stop_at_end=False, seed=1)
    eval_settings = PlannerSettings.from_config(s.cfg)
    return {
        "open_loop_eps0.5": EpsilonGreedy(open_loop, n_actions, eps=0.5, seed=2),
        "closed_loop": ClosedLoopPolicy(model, eval_settings, gen),
    }


def section_collection(s: SimpleNamespace, device: torch.device, seconds: float, k: int) -> dict:
    task = pong_task(s)
    model = model_for(s, task.n_actions, device).eval()
    model.amp = s.cfg.amp and device.type == "cuda"
    out: dict[str, Any] = {"envs": k, "N": s.cfg.n_candidates, "T": s.horizon, "amp": model.amp}
    goals = goal_frames(task, 16)
    for name, policy in policies(s, model, k, task.n_actions, device).items():
        roll = Rollout(task, k, s.horizon, goals)
        try:
            roll.step(policy, device)  # warm-up
            steps, t0 = 0, time.perf_counter()
            while (s.phase_steps and steps < s.phase_steps) or (
                not s.phase_steps and time.perf_counter() - t0 < seconds
            ):
                steps += roll.step(policy, device)
            out[f"{name}_agent_steps_per_s"] = steps / (time.perf_counter() - t0)
        finally:
            roll.close()
    return out


def section_run(s: SimpleNamespace, device: torch.device, seconds: float, k: int) -> dict:
    """Algorithm 1 on Pong at the preset's sizes, learning from the first trajectory on."""
    cfg = s.cfg
    task = pong_task(s)
    model = model_for(s, task.n_actions, device).train()
    model.amp = s.cfg.amp and device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    update = make_update(model, opt, cfg.grad_clip)
    capacity = 20_000 if s.phase_steps else min(cfg.buffer_size, 300_000)
    replay = ReplayBuffer(capacity, task.frame_shape, STACK, s.horizon, device=device)
    policy = policies(s, model, k, task.n_actions, device)["open_loop_eps0.5"]
    roll = Rollout(task, k, s.horizon, goal_frames(task, 16), replay)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    steps = updates = 0
    t_update = 0.0
    t0 = time.perf_counter()
    try:
        while (s.phase_steps and steps < 3 * s.phase_steps) or (
            not s.phase_steps and time.perf_counter() - t0 < seconds
        ):
            model.eval()
            steps += roll.step(policy, device)
            owed = int(cfg.replay_ratio * steps / s.batch) - updates
            if owed > 0 and replay.size > 0:
                model.train()
                t1 = time.perf_counter()
                for _ in range(owed):
                    b = replay.sample(s.batch)
                    update(b)
                sync(device)  # so that the update time is not billed to the next act
                t_update += time.perf_counter() - t1
                updates += owed
    finally:
        roll.close()
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {
        "envs": k,
        "seconds": wall,
        "agent_steps": steps,
        "updates": updates,
        "agent_steps_per_s": steps / wall,
        "updates_per_s": updates / wall,
        "replay_ratio": cfg.replay_ratio,
        "share_env": roll.clock["env"] / wall,
        "share_acting_planning": roll.clock["act"] / wall,
        "share_updates": t_update / wall,
        "share_store_and_bookkeeping": roll.clock["store"] / wall,
    }
    if device.type == "cuda":
        out["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    out["estimate_500k_steps_minutes"] = 500_000 / max(steps / wall, 1e-9) / 60
    default_ring = ring_frames(cfg.total_steps, cfg.buffer_size, cfg.horizon, cfg.n_envs)
    out["ring_frames"] = capacity
    out["default_ring_gib"] = replay_bytes(default_ring, task.frame_shape) / 2**30
    out["amp"] = model.amp
    out["differs_from_default_run"] = differences(cfg, k, capacity, default_ring, model.amp)
    return out


def differences(cfg, k: int, capacity: int, default_ring: int, amp: bool) -> list[str]:
    """How the run section differs from `python -m glamor_mini.run atari` (module docstring)."""
    return [
        f"updates from the first trajectory (default: none before learning_starts="
        f"{cfg.learning_starts:,} steps)",
        f"epsilon 0.5 throughout (default: {cfg.eps_start} -> {cfg.eps_final} over "
        f"{cfg.eps_steps:,} steps)",
        f"{k} envs (default: n_envs={cfg.n_envs})",
        f"no evaluation (default: {cfg.n_eval_goals} goals x {cfg.eval_episodes} episodes "
        f"closed-loop every {cfg.eval_every:,} steps)",
        f"no checkpoints or logs (default: a weights-only checkpoint every "
        f"{cfg.checkpoint_every:,} steps)",
        f"replay ring {capacity:,} frames (default: {default_ring:,} frames)",
        f"encoders in {'bf16' if amp else 'float32'} (default: float32; --set amp=true: bf16)",
        "one run alone on the device (Table 1: 1 / --gpus_per_run runs share a GPU)",
    ]


def eval_upper_bound_minutes(cfg, horizon: int, closed_loop_steps_per_s: float) -> float:
    """A default run's evaluations at the measured closed-loop rate, every episode lasting T."""
    n_evals = -(-cfg.total_steps // cfg.eval_every) if cfg.eval_every else 1
    steps = n_evals * cfg.n_eval_goals * cfg.eval_episodes * horizon
    return steps / max(closed_loop_steps_per_s, 1e-9) / 60


# ----------------------------------------------------------------------------------- main


def device_info(device: torch.device) -> dict:
    info = {
        "device": str(device),
        "torch": torch.__version__,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["memory_gib"] = torch.cuda.get_device_properties(device).total_memory / 2**30
    else:
        info["name"] = platform.processor() or platform.machine()
    return info


SECTIONS = ("planner", "updates", "collection", "run")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "out", type=Path, nargs="?", default=Path("runs/bench_gpu"), help="where to write JSON"
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run (CPU-friendly)")
    p.add_argument("--seconds", type=float, default=180.0, help="length of the Pong run")
    p.add_argument("--collect-seconds", type=float, default=30.0, help="per collection mode")
    p.add_argument("--envs", type=int, default=0, help="K envs (default: cores - 1)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument(
        "--sections",
        nargs="+",
        default=list(SECTIONS),
        choices=list(SECTIONS),
        help="which parts to run (default: all)",
    )
    p.add_argument(
        "--paper-on-cpu",
        action="store_true",
        help="run the paper's sizes on a CPU (slow: for a per-run cost estimate without a GPU)",
    )
    p.add_argument("--update-steps", type=int, default=0, help="timed updates (default 30)")
    p.add_argument(
        "--amp",
        action="store_true",
        help="collection and run sections with the encoders in bf16 (Config.amp=True); "
        "default: the preset's float32",
    )
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        set_cuda_precision()  # as agents.build_agent sets it for a run
    if device.type == "cpu" and not args.quick and not args.paper_on_cpu:
        print("no GPU: running the CPU smoke mode (--quick); paper sizes need a GPU")
        args.quick = True
    s = sizes(args.quick, args.update_steps, args.amp)
    k = args.envs or max(1, (os.cpu_count() or 2) - 1)
    if args.quick:
        k = min(k, 2)
    result: dict[str, Any] = {"quick": args.quick, "device": device_info(device)}
    print(f"bench/gpu.py | {result['device']['name']} | {device} | K = {k} envs", flush=True)
    sections: list[tuple[str, Callable[[], dict]]] = [
        ("planner", lambda: section_planner(s, device)),
        ("updates", lambda: section_updates(s, device)),
        ("collection", lambda: section_collection(s, device, args.collect_seconds, k)),
        ("run", lambda: section_run(s, device, args.seconds, k)),
    ]
    sections = [(n, fn) for n, fn in sections if n in args.sections]
    failed = False
    for name, fn in sections:
        t0 = time.perf_counter()
        try:
            result[name] = fn()
        except ImportError as err:
            result[name] = {"skipped": f"{err} (install the extra it names)"}
        except Exception as err:  # noqa: BLE001 - one failing section must not lose the others
            result[name] = {
                "error": f"{type(err).__name__}: {err}",
                "trace": traceback.format_exc(),
            }
            failed = True
        result[name]["section_seconds"] = time.perf_counter() - t0
        print(f"== {name}: " + json.dumps(result[name], default=str), flush=True)
    closed = result.get("collection", {}).get("closed_loop_agent_steps_per_s")
    if "estimate_500k_steps_minutes" in result.get("run", {}):
        run = result["run"]
        if closed:
            extra = eval_upper_bound_minutes(s.cfg, s.horizon, closed)
            run["eval_upper_bound_minutes"] = extra
            print(f"a default run's evaluations add at most {extra:.0f} min")
        print("the run section differs from a default run (python -m glamor_mini.run atari):")
        for line in run["differs_from_default_run"]:
            print(f"  - {line}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gpu_bench.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {path}")
    if failed:
        raise SystemExit(f"a section failed; see {path}")
    return result


if __name__ == "__main__":
    main()
