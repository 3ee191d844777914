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

from glamor_mini.agents import (
    Agent,
    NonFiniteLossError,
    build_agent,
    collection_policy,
    fields_not_used_by,
    seed_offset,
)
from glamor_mini.checkpoint import CheckpointError, Counters, restore_run_state, run_state
from glamor_mini.config import Config
from glamor_mini.console import ConsoleLog, Interrupted, exit_code, sigterm_as_interrupt
from glamor_mini.envs import make_task
from glamor_mini.evaluate import EvalResult, eval_from_json, eval_row
from glamor_mini.policies import EpsilonGreedy, LinearSchedule
from glamor_mini.replay import ReplayBuffer, ring_frames
from glamor_mini.resolve import resolve_config
from glamor_mini.rollout import Collector
from glamor_mini.rundir import CSV_COLUMNS, RunDir, RunDirError, progress_row, provenance
from glamor_mini.utils import resolve_device, seed_everything, set_torch_threads


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
        self.rundir.check_usable()  # before any work: a wrong --out fails at once
        self.rundir.remove_stale_temp_files()
        self.device = resolve_device(cfg.device)
        set_torch_threads(self.cfg.torch_threads, self.cfg.encoder == "mlp", self.device)
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
            reserve=ring_frames(cfg.total_steps, cfg.buffer_size, self.task.horizon, cfg.n_envs),
        )
        self.eps_schedule = LinearSchedule(cfg.eps_start, cfg.eps_final, cfg.eps_steps)
        self.policy = collection_policy(cfg, self.agent, self.task.n_actions)
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
        state, self.finished = self.rundir.open(
            cfg.to_dict(),
            self.provenance,
            cfg.total_steps,
            defaults=Config().to_dict(),
            ignore=fields_not_used_by(cfg.algo),
        )
        self.resumed_from = 0
        if state is not None:
            self.load_state(state)
            self.resumed_from = self.agent_steps
        if self.finished is None or reevaluate:
            self.rundir.start(cfg.to_dict(), self.agent_steps)

    @property
    def model(self) -> nn.Module:
        return self.agent.model

    # ------------------------------------------------------------------ checkpoint state
    def counters(self) -> Counters:
        return Counters(self.agent_steps, self.updates, self.collector.episodes, self.wall_seconds)

    def state_dict(self) -> dict:
        """ckpt.pt's contents (checkpoint.py)."""
        parts = (self.agent, self.replay, self.collector, self.policy)
        cfg = self.cfg
        return run_state(cfg.to_dict(), self.provenance, *parts, self.counters(), cfg.save_replay)

    def load_state(self, state: dict) -> None:
        parts = (self.agent, self.replay, self.collector, self.policy)
        c = restore_run_state(state, self.rundir.ckpt, *parts, self.cfg.seed, warn=self.note)
        self.agent_steps, self.updates, self.wall_before = c.agent_steps, c.updates, c.wall_seconds

    def checkpoint(self) -> None:
        self.rundir.save_checkpoint(self.state_dict())

    # ------------------------------------------------------------------ learning
    def updates_owed(self) -> int:
        """Updates due so that updates * batch_size ~= replay_ratio * (steps - learning_starts)
        (Config.updates_due: the one formula, also behind Config.expected_updates)."""
        if self.replay.size == 0:
            return 0
        return max(0, self.cfg.updates_due(self.agent_steps) - self.updates)

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
        """One progress row (rundir.progress_row): CSV, TensorBoard and the console."""
        eps = float(getattr(self.policy, "eps", 1.0))
        visited = self.collector.pop_visit_rate()
        ev = eval_row(eval_result) if eval_result is not None else {}
        row = progress_row(self.counters(), sps, eps, self._stats, visited, ev)
        self._stats.clear()
        bad = [k for k in ("loss", "q_loss") if k in row and not math.isfinite(row[k])]
        if bad:  # checked here, once per log interval: no host sync per update on a GPU
            raise NonFiniteLossError(
                f"{self.agent.name}: {bad[0]} became {row[bad[0]]} by step "
                f"{self.agent_steps} — check lr, clip_p_actions and the other numeric settings"
            )
        self.rundir.log_row(row)
        self.console.row(row)
        return row

    # ------------------------------------------------------------------ Algorithm 1
    def run(self, on_step: Callable[[Trainer], None] | None = None) -> TrainResult:
        """Algorithm 1 from the current step up to cfg.total_steps, then the final evaluation;
        Ctrl-C / SIGTERM write a checkpoint and raise `Interrupted`."""
        cfg = self.cfg
        if self.finished is not None and not self.reevaluate:
            return self._already_finished()
        self._t0 = time.perf_counter()
        name = f"{self.agent.name} {self.task.name} seed {cfg.seed}"
        self.console = ConsoleLog(name, cfg.total_steps, self.agent_steps, cfg.progress)
        for line in cfg.warnings():  # valid settings that are almost surely not meant
            print(f"warning: {line}", file=sys.stderr, flush=True)
        if self.resumed_from:
            what = "re-evaluating" if self.finished is not None else "resuming"
            self.console.line(f"{what} {self.run_dir} from step {self.resumed_from}", always=True)
        with sigterm_as_interrupt():
            try:
                if self.resumed_from and self.agent_steps < cfg.total_steps:
                    self._finish_interrupted_step()
                eval_at = self._loop(on_step)
            except KeyboardInterrupt as err:
                self.console.close()
                self.collector.close()
                self.checkpoint()
                self.rundir.close()
                self.task.close()
                raise Interrupted(self.agent_steps, self.run_dir, exit_code(err)) from None
            finally:
                self.console.close()
        self.collector.close()
        result = self.last_eval
        if result is None or eval_at != self.agent_steps:
            result = self.run_eval()
            self.log(result, 0.0)
        self.checkpoint()
        self.rundir.write_results(
            result, self.counters(), self.task, self.eval_goals, self.agent, cfg.seed
        )
        self.rundir.close()
        self.task.close()  # the evaluation envs it keeps (Task.reuse_eval_envs)
        return TrainResult(self.model, result, self.run_dir, self.agent_steps, self.wall_seconds)

    def _loop(self, on_step: Callable[[Trainer], None] | None) -> int:
        """Collect, learn, log, evaluate, checkpoint until total_steps; returns the step of the
        last evaluation (-1 if none)."""
        cfg = self.cfg
        eval_at = -1
        last_t, last_steps = time.perf_counter(), self.agent_steps
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
            if cfg.checkpoint_every and _crossed(prev, self.agent_steps, cfg.checkpoint_every):
                self.checkpoint()
            if on_step is not None:
                on_step(self)
        return eval_at

    def _finish_interrupted_step(self) -> None:
        """An interrupt in a step's evaluation or log checkpointed that step, which the loop never
        crosses again: evaluate (the checkpoint's model) and log it, or the curve has a hole."""
        cfg, last = self.cfg, max(self.rundir.last_logged_step(), 0)
        if last >= self.agent_steps:
            return
        due = cfg.eval_every and _crossed(last, self.agent_steps, cfg.eval_every)
        ev = self.run_eval() if due else None
        if ev is not None or _crossed(last, self.agent_steps, cfg.log_every):
            self.log(ev, 0.0)

    def _already_finished(self) -> TrainResult:
        ev = self.finished or {}
        self.collector.close()
        print(self.rundir.finished_message(ev), flush=True)
        return TrainResult(
            self.model, eval_from_json(ev), self.run_dir, self.agent_steps, self.wall_before, True
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


__all__ = [
    "CSV_COLUMNS",  # re-exported: progress.csv's columns (rundir.py)
    "CheckpointError",  # re-exported for callers (checkpoint.py)
    "Interrupted",  # re-exported (console.py)
    "RunDirError",  # re-exported (rundir.py)
    "TrainResult",
    "Trainer",
    "train",
]
