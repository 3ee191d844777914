"""Algorithm 1: collect with the agent's policy, store whole trajectories, learn, repeat.

    for each collector step (n_envs agent steps):
        act in every env with the agent's collection policy (epsilon-greedy) toward sampled
            training goals; finished trajectories go to the replay (final observation included)
        once agent_steps >= learning_starts: agent.update(agent.sample(replay)) until
            updates * batch_size ~= replay_ratio * (agent_steps - learning_starts)
        every log_every / eval_every / checkpoint_every agent steps: log, evaluate, checkpoint

The loop is the same for every algorithm (agents.py: GLAMOR, GCSL, DISCERN); the run directory
(rundir.py) makes it resumable: rerunning into the same directory continues from ckpt.pt, a
finished run says so and does nothing, Ctrl-C and SIGTERM (preemption) write a checkpoint first.
Episodes in flight at a checkpoint are not in it: a resumed run starts fresh episodes (so it is
reproducible but not bit-identical to an uninterrupted run).
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from glamor_mini.agents import Agent, NonFiniteLossError, build_agent, seed_offset
from glamor_mini.artefacts import write_eval_artefacts
from glamor_mini.config import Config
from glamor_mini.envs import make_task
from glamor_mini.evaluate import EvalResult, eval_from_json, eval_row
from glamor_mini.policies import EpsilonGreedy, LinearSchedule, UniformRandomPolicy
from glamor_mini.replay import ReplayBuffer
from glamor_mini.resolve import resolve_config
from glamor_mini.rollout import Collector
from glamor_mini.rundir import (
    CKPT_FORMAT,
    CSV_COLUMNS,  # noqa: F401  (re-exported: progress.csv's columns)
    CheckpointError,
    ConsoleLog,
    RunDir,
    RunDirError,  # noqa: F401  (re-exported for callers)
    capture_rngs,
    provenance,
    restore_rngs,
    sigterm_as_interrupt,
)
from glamor_mini.utils import resolve_device, seed_everything


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: a checkpoint was written; rerun the same command to resume."""

    def __init__(self, agent_steps: int, run_dir: Path):
        self.agent_steps, self.run_dir = agent_steps, run_dir
        super().__init__(
            f"interrupted at step {agent_steps}; rerun the same command to resume ({run_dir})"
        )


@dataclass
class TrainResult:
    model: nn.Module
    eval: EvalResult | None
    run_dir: Path
    agent_steps: int
    wall_seconds: float
    already_finished: bool = False


class Trainer:
    """Everything of one run; `run()` executes Algorithm 1 up to cfg.total_steps."""

    def __init__(self, cfg: Config, out: str | Path | None = None, reevaluate: bool = False):
        self.cfg = resolve_config(cfg, announce=False)
        self.rundir = RunDir(out if out is not None else tempfile.mkdtemp(prefix="glamor-"))
        self.run_dir = self.rundir.path
        self.rundir.check_usable()
        self.rundir.remove_stale_temp_files()
        self.device = resolve_device(cfg.device)
        if self.cfg.torch_threads:
            torch.set_num_threads(self.cfg.torch_threads)
        elif self.cfg.encoder == "mlp" and self.device.type == "cpu":
            # small matmuls: past two threads the overhead outweighs the gain; two beat one
            # (the `gridworld` preset, LSTM 64, batch 200: 71 s vs 99-106 s on a 2-core CPU)
            torch.set_num_threads(min(2, torch.get_num_threads()))
        seed_everything(cfg.seed)
        self.task = make_task(cfg)
        self.train_goals = self.task.train_goals(cfg.seed)
        self.eval_goals = self.task.eval_goals(cfg.seed)
        self.agent: Agent = build_agent(cfg, self.task, self.train_goals, self.device)
        self.replay = ReplayBuffer(
            cfg.buffer_size,
            self.task.frame_shape,
            self.task.frame_stack,
            cfg.horizon,
            seed=seed_offset(cfg.seed, "replay"),
            device=self.device,  # on a GPU the ring lives there: batches need no copy
        )
        self.eps_schedule = LinearSchedule(cfg.eps_start, cfg.eps_final, cfg.eps_steps)
        if cfg.collect_policy == "random":
            self.policy = UniformRandomPolicy(
                self.task.n_actions, seed=seed_offset(cfg.seed, "random_policy")
            )
        else:
            self.policy = EpsilonGreedy(
                self.agent.collect_policy(),
                self.task.n_actions,
                cfg.eps_start,
                seed=seed_offset(cfg.seed, "epsilon"),
            )
        self.collector = Collector(
            self.task,
            cfg.n_envs,
            self.policy,
            self.train_goals,
            self.replay,
            seed=seed_offset(cfg.seed, "collector"),
        )
        self.agent_steps = self.updates = 0
        self.wall_before = 0.0  # wall seconds of earlier sessions of this run
        self._stats: list[dict[str, torch.Tensor]] = []
        self.last_eval: EvalResult | None = None
        self.reevaluate = reevaluate
        # --- the run directory: check everything before writing anything
        self.provenance = provenance(cfg, self.train_goals, self.eval_goals)
        state = self.rundir.load_checkpoint()
        self.rundir.check_same_experiment(
            cfg.to_dict(), self.provenance, state, defaults=Config().to_dict()
        )
        self.finished = self.rundir.finished_eval(state, cfg.total_steps)
        if state is not None:
            self.load_state(state)
        if self.finished is None or reevaluate:
            self.rundir.start(cfg.to_dict(), self.agent_steps)

    @property
    def model(self) -> nn.Module:
        return self.agent.model

    # ------------------------------------------------------------------ checkpoint state
    def _numpy_rngs(self) -> dict:
        rngs = {"collector": self.collector.rng}
        policy, depth = self.policy, 0
        while policy is not None:  # the policy and the policies it wraps
            if hasattr(policy, "rng"):
                rngs[f"policy{depth}"] = policy.rng
            policy, depth = getattr(policy, "policy", None), depth + 1
        return rngs

    def state_dict(self) -> dict:
        cfg = self.cfg
        gens = {**self.agent.generators, "replay": self.replay.generator}
        return {
            "format": CKPT_FORMAT,
            "config": cfg.to_dict(),
            "provenance": self.provenance,
            "agent": self.agent.state_dict(),
            "counters": {
                "agent_steps": self.agent_steps,
                "updates": self.updates,
                "episodes": self.collector.episodes,
                "wall_seconds": self.wall_seconds,
            },
            "rng": capture_rngs(gens, self._numpy_rngs()),
            "replay": self.replay.state_dict() if cfg.save_replay else None,
        }

    def load_state(self, state: dict) -> None:
        try:
            self.agent.load_state_dict(state["agent"])
        except (KeyError, ValueError, RuntimeError) as err:
            msg = str(err).splitlines()[0][:300]
            raise CheckpointError(
                f"cannot resume from {self.rundir.ckpt}: {type(err).__name__}: {msg}. The file "
                "is from another model; move it away to start afresh, or choose another --out."
            ) from None
        c = state["counters"]
        self.agent_steps, self.updates = int(c["agent_steps"]), int(c["updates"])
        self.collector.episodes = int(c["episodes"])
        self.wall_before = float(c["wall_seconds"])
        gens = {**self.agent.generators, "replay": self.replay.generator}
        reseed = self.cfg.seed + self.agent_steps
        restore_rngs(state["rng"], gens, self._numpy_rngs(), reseed, warn=self.note)
        if state.get("replay") is not None:
            self.replay.load_state_dict(state["replay"])

    def checkpoint(self) -> None:
        self.rundir.save_checkpoint(self.state_dict())

    # ------------------------------------------------------------------ learning
    def updates_owed(self) -> int:
        """Updates due so that updates * batch_size ~= replay_ratio * (steps - learning_starts)."""
        cfg = self.cfg
        if self.agent_steps < cfg.learning_starts or self.replay.size == 0:
            return 0
        due = math.floor(
            cfg.replay_ratio * (self.agent_steps - cfg.learning_starts) / cfg.batch_size
        )
        return max(0, due - self.updates)

    def update(self) -> None:
        self.set_learning_rate()
        self._stats.append(self.agent.update(self.agent.sample(self.replay, self.cfg.batch_size)))
        self.updates += 1

    def set_learning_rate(self) -> None:
        """The lr schedule (Config.lr_scale) at the current agent step."""
        self.agent.set_lr_scale(self.cfg.lr_scale(self.agent_steps))

    def run_eval(self) -> EvalResult:
        self.last_eval = self.agent.evaluate(self.eval_goals, self.cfg.eval_episodes, self.cfg.seed)
        return self.last_eval

    # ------------------------------------------------------------------ logging
    @property
    def wall_seconds(self) -> float:
        return self.wall_before + (time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0)

    def note(self, text: str) -> None:
        console = getattr(self, "console", None)
        if console is not None:
            console.line(text)
        else:
            print(text, flush=True)

    def log(self, eval_result: EvalResult | None, sps: float) -> dict:
        row: dict[str, float | int | str] = {
            "agent_steps": self.agent_steps,
            "updates": self.updates,
            "episodes": self.collector.episodes,
            "wall_seconds": round(self.wall_seconds, 2),
            "steps_per_second": round(sps, 1),
            "eps": round(float(getattr(self.policy, "eps", 1.0)), 4),
        }
        if self._stats:
            for k in self._stats[0]:
                if k in CSV_COLUMNS:
                    row[k] = round(torch.stack([s[k] for s in self._stats]).mean().item(), 5)
            self._stats.clear()
            bad = [k for k in ("loss", "q_loss") if k in row and not math.isfinite(row[k])]
            if bad:  # checked here, once per log interval: no host sync per update on a GPU
                raise NonFiniteLossError(
                    f"{self.agent.name}: {bad[0]} became {row[bad[0]]} by step "
                    f"{self.agent_steps} — check lr, clip_p_actions and the other numeric settings"
                )
        visited = self.collector.pop_visit_rate()
        if visited is not None:
            row["train_goal_visited"] = round(visited, 4)
        if eval_result is not None:
            row.update(eval_row(eval_result))
        self.rundir.log_row(row)
        self.console.row(row)
        return row

    # ------------------------------------------------------------------ Algorithm 1
    def run(self, on_step: Callable[[Trainer], None] | None = None) -> TrainResult:
        cfg = self.cfg
        if self.finished is not None and not self.reevaluate:
            return self._already_finished()
        self._t0 = time.perf_counter()
        self.console = ConsoleLog(
            f"{self.agent.name} {self.task.name} seed {cfg.seed}",
            cfg.total_steps,
            self.agent_steps,
            cfg.progress,
        )
        for line in cfg.warnings():  # valid settings that are almost surely not meant
            print(f"warning: {line}", file=sys.stderr, flush=True)
        eval_at = -1
        last_t, last_steps = time.perf_counter(), self.agent_steps
        with sigterm_as_interrupt():
            try:
                while self.agent_steps < cfg.total_steps:
                    if isinstance(self.policy, EpsilonGreedy):
                        self.policy.eps = self.eps_schedule(self.agent_steps)
                    self.agent.train_mode(False)
                    n = self.collector.step()
                    self.agent.train_mode(True)
                    prev, self.agent_steps = self.agent_steps, self.agent_steps + n
                    self.console.advance(n)
                    for _ in range(self.updates_owed()):
                        self.update()
                    ev = None
                    if cfg.eval_every and _crossed(prev, self.agent_steps, cfg.eval_every):
                        ev, eval_at = self.run_eval(), self.agent_steps
                    if _crossed(prev, self.agent_steps, cfg.log_every) or ev is not None:
                        now = time.perf_counter()
                        sps = (self.agent_steps - last_steps) / max(now - last_t, 1e-9)
                        last_t, last_steps = now, self.agent_steps
                        self.log(ev, sps)
                    if cfg.checkpoint_every and _crossed(
                        prev, self.agent_steps, cfg.checkpoint_every
                    ):
                        self.checkpoint()
                    if on_step is not None:
                        on_step(self)
            except KeyboardInterrupt:
                self.console.close()
                self.collector.close()
                self.checkpoint()
                self.rundir.close()
                raise Interrupted(self.agent_steps, self.run_dir) from None
            finally:
                self.console.close()
        self.collector.close()
        result = self.last_eval
        if result is None or eval_at != self.agent_steps:
            result = self.run_eval()
            self.log(result, 0.0)
        self.checkpoint()
        self.write_eval(result)
        self.rundir.close()
        return TrainResult(self.model, result, self.run_dir, self.agent_steps, self.wall_seconds)

    def _already_finished(self) -> TrainResult:
        ev = self.finished or {}
        self.collector.close()
        print(
            f"{self.run_dir} already finished (eval.json: goal achievement "
            f"{ev.get('goal_achievement')} at {ev.get('agent_steps')} agent steps); nothing to "
            "do. Pass --reevaluate to evaluate it again, or raise --total_steps to train on.",
            flush=True,
        )
        return TrainResult(
            self.model,
            eval_from_json(ev),
            self.run_dir,
            self.agent_steps,
            self.wall_before,
            already_finished=True,
        )

    def write_eval(self, result: EvalResult) -> None:
        summary = {
            **result.summary(),
            "agent_steps": self.agent_steps,
            "updates": self.updates,
            "wall_seconds": round(self.wall_seconds, 2),
            "env": self.task.name,
            "algo": self.agent.name,
            **self.agent.acting,
            "per_goal": result.per_goal,
        }
        self.rundir.write_eval(summary)
        write_eval_artefacts(
            self.run_dir, self.task, result, self.eval_goals, self.agent, self.cfg.seed
        )


def _crossed(before: int, after: int, every: int) -> bool:
    """True when a multiple of `every` lies in (before, after]."""
    return every > 0 and after // every > before // every


def train(
    cfg: Config,
    out: str | Path | None = None,
    on_step: Callable[[Trainer], None] | None = None,
    reevaluate: bool = False,
) -> TrainResult:
    """Run (or resume) Algorithm 1 into `out` (a temporary directory when None). A finished run
    is not trained again (its eval.json is returned) unless `reevaluate`."""
    if resolve_config(cfg, announce=False) != cfg:  # something to derive: say what (once)
        cfg = resolve_config(cfg)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        return Trainer(cfg, out, reevaluate=reevaluate).run(on_step)
