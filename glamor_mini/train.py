"""Algorithm 1 (GLAMOR): collect with the planner, relabel, fit Eq. 9, repeat.

    for each collector step (n_envs agent steps):
        act in every env with the open-loop epsilon-greedy planner toward sampled training goals
        write finished trajectories to the replay buffer (final observation included)
        once agent_steps >= learning_starts: do gradient updates so that
            updates * batch_size ~= replay_ratio * (agent_steps - learning_starts)
        every log_every / eval_every / checkpoint_every steps: log, evaluate, checkpoint

A run directory holds config.json, progress.csv, TensorBoard events, ckpt.pt, eval.json and, for
suites that can draw it, eval.png. Rerunning into the same directory resumes from ckpt.pt (only
fields that do not change the experiment, such as total_steps, may differ). Checkpoints are
written atomically, so an interrupted run never leaves a torn checkpoint; Ctrl-C writes one
before exiting. Episodes that were in flight when a checkpoint was written are not in it: a
resumed run starts fresh episodes (so it is reproducible but not bit-identical to an
uninterrupted run).
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from glamor_mini.collect import Collector
from glamor_mini.config import Config, ConfigError
from glamor_mini.envs import make_task, obs_shape
from glamor_mini.evaluate import EvalResult, evaluate
from glamor_mini.models import build_model
from glamor_mini.planner import PlannerSettings
from glamor_mini.policies import (
    ClosedLoopPolicy,
    EpsilonGreedy,
    LinearSchedule,
    OpenLoopPolicy,
    UniformRandomPolicy,
)
from glamor_mini.replay import ReplayBuffer
from glamor_mini.utils import atomic_torch_save, atomic_write_text, resolve_device, seed_everything

# Fields that may change between a run and its resumption (they do not change the experiment).
RESUMABLE_FIELDS = {
    "total_steps",
    "eval_every",
    "log_every",
    "checkpoint_every",
    "progress",
    "device",
    "eval_episodes",
    "save_replay",
}
CSV_COLUMNS = [
    "agent_steps",
    "updates",
    "episodes",
    "wall_seconds",
    "steps_per_second",
    "eps",
    "loss",
    "inverse_nll",
    "prior_nll",
    "train_goal_visited",
    "eval_goal_achievement",
    "eval_optimal_path_rate",
    "eval_mean_extra_steps",
    "eval_beyond_start",
]
"""progress.csv's columns. A run resumed from an older version gets its file rewritten with these
(the missing columns left empty)."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not belong to this run."""


def planner_settings(cfg: Config, collect: bool = False) -> PlannerSettings:
    """Deprecated alias of `PlannerSettings.from_config`."""
    return PlannerSettings.from_config(cfg, collect)


@dataclass
class Agent:
    """What Algorithm 1 needs from an algorithm (GLAMOR or a baseline sharing its loop).

    model: nn.Module with .loss(obs, goal, actions, lengths, alpha) -> (loss, stats), trained on
        the replay's relabelled batches.
    collect_policy: acts while collecting (wrapped in epsilon-greedy by the trainer).
    make_eval_policy: seed -> the policy used for evaluation.
    generators: torch generators whose states go into checkpoints.
    name: shown on the progress bar and written to eval.json.
    acting: how the agent acts (planner settings, policy mode), written to eval.json.
    """

    model: nn.Module
    collect_policy: object
    make_eval_policy: Callable[[int], object]
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    name: str = "GLAMOR"
    acting: dict = field(default_factory=dict)


def build_glamor(cfg: Config, task, device: torch.device) -> Agent:
    """GLAMOR: open-loop planner for collection (§3.5), closed-loop MPC for evaluation."""
    model = build_model(cfg, obs_shape(task), task.frame_shape, task.n_actions).to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 2)
    collect = OpenLoopPolicy(
        model,
        planner_settings(cfg, collect=True),
        cfg.n_envs,
        cfg.horizon,
        gen,
        stop_at_end=False,
        seed=cfg.seed + 4,
    )

    def make_eval_policy(seed: int) -> ClosedLoopPolicy:
        eval_gen = torch.Generator(device=device).manual_seed(seed)
        return ClosedLoopPolicy(model, planner_settings(cfg), eval_gen)

    acting = {
        "planner": vars(planner_settings(cfg)),
        "collect_planner": vars(planner_settings(cfg, collect=True)),
    }
    return Agent(model, collect, make_eval_policy, {"planner": gen}, "GLAMOR", acting)


ALGOS: dict[str, str] = {
    "glamor": "glamor_mini.train:build_glamor",
    "gcsl": "glamor_mini.baselines.gcsl:build_gcsl",
}


def build_agent(cfg: Config, task, device: torch.device) -> Agent:
    if cfg.algo not in ALGOS:
        raise ConfigError(f"algo={cfg.algo!r} is not accepted; choose one of {sorted(ALGOS)}")
    module, fn = ALGOS[cfg.algo].split(":")
    return getattr(importlib.import_module(module), fn)(cfg, task, device)


@dataclass
class TrainResult:
    model: nn.Module
    eval: EvalResult | None
    run_dir: Path
    agent_steps: int
    wall_seconds: float


class Trainer:
    """Holds everything of one run; `run()` executes Algorithm 1 to cfg.total_steps."""

    def __init__(self, cfg: Config, out: str | Path | None = None):
        self.cfg = cfg.validate()
        self.run_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="glamor-"))
        self.device = resolve_device(cfg.device)
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        elif cfg.encoder == "mlp" and self.device.type == "cpu":
            torch.set_num_threads(1)  # tiny matmuls: threading overhead outweighs the gain
        seed_everything(cfg.seed)
        self.task = make_task(cfg)
        self.agent = build_agent(cfg, self.task, self.device)
        self.model = self.agent.model
        self.amp = cfg.amp and self.device.type == "cuda"
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.replay = ReplayBuffer(
            cfg.buffer_size,
            self.task.frame_shape,
            self.task.frame_stack,
            cfg.horizon,
            seed=cfg.seed + 1,
            pin_memory=self.device.type == "cuda",
        )
        self.train_goals = self.task.train_goals(cfg.seed)
        self.eval_goals = self.task.eval_goals(cfg.seed)
        self.eps_schedule = LinearSchedule(cfg.eps_start, cfg.eps_final, cfg.eps_steps)
        if cfg.collect_policy == "random":
            self.policy = UniformRandomPolicy(self.task.n_actions, seed=cfg.seed + 3)
        else:
            self.policy = EpsilonGreedy(
                self.agent.collect_policy, self.task.n_actions, cfg.eps_start, seed=cfg.seed + 5
            )
        self.collector = Collector(
            self.task, cfg.n_envs, self.policy, self.train_goals, self.replay, seed=cfg.seed + 6
        )
        self.agent_steps = self.updates = 0
        self.wall_before = 0.0  # wall seconds of earlier sessions of this run
        self._stats: list[dict[str, torch.Tensor]] = []
        self.last_eval: EvalResult | None = None
        self._writer = None
        self._prepare_run_dir()

    # ------------------------------------------------------------------ run directory, resume
    def _prepare_run_dir(self) -> None:
        """Validate everything before writing anything; resume when a checkpoint exists."""
        d, cfg = self.run_dir, self.cfg
        if d.exists() and not d.is_dir():
            raise ConfigError(f"--out {d} exists and is not a directory")
        ckpt, cfg_path = d / "ckpt.pt", d / "config.json"
        if ckpt.exists():
            if cfg_path.exists():
                try:
                    old = json.loads(cfg_path.read_text())
                except json.JSONDecodeError as err:
                    raise CheckpointError(
                        f"{cfg_path} is not valid JSON ({err}); choose another --out or repair it"
                    ) from err
                diff = sorted(
                    k
                    for k, v in old.items()
                    if k not in RESUMABLE_FIELDS and cfg.to_dict().get(k) != v
                )
                if diff:
                    pairs = ", ".join(f"{k}: {old[k]!r} -> {cfg.to_dict().get(k)!r}" for k in diff)
                    raise ConfigError(
                        f"{d} holds a run with a different config ({pairs}); resume it with the "
                        f"same settings (only {sorted(RESUMABLE_FIELDS)} may change) or choose "
                        "another --out"
                    )
            self._load_checkpoint(ckpt)
            self._truncate_progress()
        d.mkdir(parents=True, exist_ok=True)
        cfg.save(cfg_path)

    def _truncate_progress(self) -> None:
        """Drop progress rows logged after the checkpoint we resume from; bring an older file's
        header up to CSV_COLUMNS so that appended rows line up."""
        path = self.run_dir / "progress.csv"
        if not path.exists():
            return
        with path.open() as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = list(reader.fieldnames or [])
        keep = [r for r in rows if int(float(r["agent_steps"])) <= self.agent_steps]
        if len(keep) != len(rows) or header != CSV_COLUMNS:
            lines = [",".join(CSV_COLUMNS)] + [
                ",".join(r.get(c) or "" for c in CSV_COLUMNS) for r in keep
            ]
            atomic_write_text(path, "\n".join(lines) + "\n")

    def checkpoint(self) -> None:
        cfg = self.cfg
        state = {
            "format": "glamor-mini/ckpt/1",
            "config": cfg.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "agent_steps": self.agent_steps,
            "updates": self.updates,
            "episodes": self.collector.episodes,
            "wall_seconds": self.wall_seconds,
            "rng": self._rng_state(),
            "replay": self.replay.state_dict() if cfg.save_replay else None,
        }
        atomic_torch_save(state, self.run_dir / "ckpt.pt")

    def _numpy_rngs(self) -> dict[str, np.random.Generator]:
        rngs = {"collector": self.collector.rng}
        policy, depth = self.policy, 0
        while policy is not None:  # the policy and the policies it wraps
            if hasattr(policy, "rng"):
                rngs[f"policy{depth}"] = policy.rng
            policy, depth = getattr(policy, "policy", None), depth + 1
        return rngs

    def _rng_state(self) -> dict:
        gens = {name: g.get_state() for name, g in self.agent.generators.items()}
        gens["torch"] = torch.get_rng_state()
        nps = {name: r.bit_generator.state for name, r in self._numpy_rngs().items()}
        return {"torch": gens, "numpy": nps}

    def _load_checkpoint(self, path: Path) -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
            if not isinstance(state, dict) or state.get("format") != "glamor-mini/ckpt/1":
                raise ValueError("not a glamor-mini checkpoint")
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except Exception as err:  # noqa: BLE001 - any failure here means an unusable file
            raise CheckpointError(
                f"cannot resume from {path}: {type(err).__name__}: {err}. The file is corrupt or "
                "from another model; move it away to start afresh, or choose another --out."
            ) from err
        self.agent_steps, self.updates = int(state["agent_steps"]), int(state["updates"])
        self.collector.episodes = int(state["episodes"])
        self.wall_before = float(state["wall_seconds"])
        rng = state["rng"]
        for name, g in self.agent.generators.items():
            g.set_state(rng["torch"][name])
        torch.set_rng_state(rng["torch"]["torch"])
        for name, r in self._numpy_rngs().items():
            r.bit_generator.state = rng["numpy"][name]
        if state.get("replay") is not None:
            self.replay.load_state_dict(state["replay"])

    # ------------------------------------------------------------------ learning
    def update(self) -> None:
        """One gradient step of Eq. 9 on a relabelled batch."""
        cfg = self.cfg
        batch = self.replay.sample(cfg.batch_size).to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss, stats = self.model.loss(
                batch.obs, batch.goal, batch.actions, batch.lengths, alpha=cfg.alpha
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.updates += 1
        self._stats.append(stats)

    def updates_owed(self) -> int:
        cfg = self.cfg
        if self.agent_steps < cfg.learning_starts or self.replay.size == 0:
            return 0
        due = math.floor(
            cfg.replay_ratio * (self.agent_steps - cfg.learning_starts) / cfg.batch_size
        )
        return max(0, due - self.updates)

    def run_eval(self) -> EvalResult:
        self.last_eval = evaluate(
            self.task,
            self.model,
            planner_settings(self.cfg),
            self.eval_goals,
            self.cfg.eval_episodes,
            seed=self.cfg.seed,
            policy=self.agent.make_eval_policy(self.cfg.seed),
        )
        return self.last_eval

    # ------------------------------------------------------------------ logging
    @property
    def wall_seconds(self) -> float:
        return self.wall_before + (time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0)

    def _writer_(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir))
        return self._writer

    def log(self, eval_result: EvalResult | None, sps: float) -> dict:
        row: dict[str, float | int | str] = {
            "agent_steps": self.agent_steps,
            "updates": self.updates,
            "episodes": self.collector.episodes,
            "wall_seconds": round(self.wall_seconds, 2),
            "steps_per_second": round(sps, 1),
            "eps": round(self.policy_eps(), 4),
        }
        if self._stats:
            for k in ("loss", "inverse_nll", "prior_nll"):
                if k not in self._stats[0]:  # baselines (GCSL) report only some of these
                    continue
                row[k] = round(torch.stack([s[k] for s in self._stats]).mean().item(), 5)
            self._stats.clear()
        visited = self.collector.pop_visit_rate()
        if visited is not None:
            row["train_goal_visited"] = round(visited, 4)
        if eval_result is not None:
            row["eval_goal_achievement"] = eval_result.goal_achievement
            if eval_result.optimal_path_rate is not None:
                row["eval_optimal_path_rate"] = eval_result.optimal_path_rate
            if eval_result.mean_extra_steps is not None:
                row["eval_mean_extra_steps"] = round(eval_result.mean_extra_steps, 3)
            if eval_result.achievement_beyond_start is not None:
                row["eval_beyond_start"] = round(eval_result.achievement_beyond_start, 4)
        path = self.run_dir / "progress.csv"
        new = not path.exists()
        with path.open("a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            if new:
                w.writeheader()
            w.writerow(row)
        tb = self._writer_()
        groups = {
            "loss": "losses",
            "inverse_nll": "losses",
            "prior_nll": "losses",
            "eps": "charts",
            "steps_per_second": "charts",
            "train_goal_visited": "charts",
            "updates": "charts",
            "episodes": "charts",
        }
        for k, v in row.items():
            if k.startswith("eval_"):
                tb.add_scalar(f"eval/{k[5:]}", v, self.agent_steps)
            elif k in groups:
                tb.add_scalar(f"{groups[k]}/{k}", v, self.agent_steps)
        tb.flush()
        return row

    def policy_eps(self) -> float:
        return float(getattr(self.policy, "eps", 1.0))

    # ------------------------------------------------------------------ Algorithm 1
    def run(self, on_step: Callable[[Trainer], None] | None = None) -> TrainResult:
        cfg = self.cfg
        self._t0 = time.perf_counter()
        eval_at = -1
        bar = tqdm(
            total=cfg.total_steps,
            initial=min(self.agent_steps, cfg.total_steps),
            disable=not cfg.progress,
            mininterval=1.0,
            desc=self.agent.name,
            unit="step",
            dynamic_ncols=True,
        )
        last_t, last_steps = time.perf_counter(), self.agent_steps
        try:
            while self.agent_steps < cfg.total_steps:
                if isinstance(self.policy, EpsilonGreedy):
                    self.policy.eps = self.eps_schedule(self.agent_steps)
                self.model.eval()
                n = self.collector.step()
                self.model.train()
                prev_steps, self.agent_steps = self.agent_steps, self.agent_steps + n
                bar.update(n)
                for _ in range(self.updates_owed()):
                    self.update()
                ev = None
                if cfg.eval_every and _crossed(prev_steps, self.agent_steps, cfg.eval_every):
                    ev, eval_at = self.run_eval(), self.agent_steps
                if _crossed(prev_steps, self.agent_steps, cfg.log_every) or ev is not None:
                    now = time.perf_counter()
                    sps = (self.agent_steps - last_steps) / max(now - last_t, 1e-9)
                    last_t, last_steps = now, self.agent_steps
                    row = self.log(ev, sps)
                    bar.set_postfix(
                        {k: row[k] for k in ("loss", "eval_goal_achievement") if k in row}
                    )
                if cfg.checkpoint_every and _crossed(
                    prev_steps, self.agent_steps, cfg.checkpoint_every
                ):
                    self.checkpoint()
                if on_step is not None:
                    on_step(self)
        except KeyboardInterrupt:
            bar.close()
            self.collector.close()
            self.checkpoint()
            print(
                f"\ninterrupted at {self.agent_steps} agent steps; checkpoint written to "
                f"{self.run_dir / 'ckpt.pt'}; rerun the same command to resume"
            )
            raise
        bar.close()
        self.collector.close()
        result = self.last_eval
        if result is None or eval_at != self.agent_steps:
            result = self.run_eval()
            self.log(result, 0.0)
        self.checkpoint()
        self.write_eval(result)
        if self._writer is not None:
            self._writer.close()
        return TrainResult(self.model, result, self.run_dir, self.agent_steps, self.wall_seconds)

    def write_eval(self, result: EvalResult) -> None:
        out = {
            **result.summary(),
            "agent_steps": self.agent_steps,
            "updates": self.updates,
            "wall_seconds": round(self.wall_seconds, 2),
            "env": self.task.name,
            "algo": self.agent.name,
            **self.agent.acting,
            "per_goal": result.per_goal,
        }
        atomic_write_text(self.run_dir / "eval.json", json.dumps(out, indent=2) + "\n")
        plot = getattr(self.task, "plot_outcomes", None)
        tmp = self.run_dir / ".eval.tmp.png"
        if plot is not None:
            labels = np.array([g["labels"] for g in result.per_goal])
            cols = [[g["achieved"], g.get("optimal", np.nan)] for g in result.per_goal]
            plot(labels, np.array(cols), tmp)
            tmp.replace(self.run_dir / "eval.png")
        elif result.final_frames is not None:  # pixel suites: goals above achieved frames
            from glamor_mini.envs.goals import plot_goal_grid

            n = len(self.eval_goals)
            plot_goal_grid(
                self.eval_goals.frames,
                result.final_frames[:n],
                result.achieved[:n],
                self.run_dir / "eval.png",
                title=self.task.name,
            )
            gif = getattr(self.task, "save_episode_gif", None)
            if gif is not None:  # one episode, goal beside the agent's view (an achieved goal)
                best = int(np.argmax(result.achieved[:n])) if result.achieved is not None else 0
                policy = self.agent.make_eval_policy(self.cfg.seed)
                gif(policy, self.eval_goals, self.run_dir / "episode.gif", goal_index=best)


def _crossed(before: int, after: int, every: int) -> bool:
    """True when a multiple of `every` lies in (before, after]."""
    return every > 0 and after // every > before // every


def train(
    cfg: Config, out: str | Path | None = None, on_step: Callable[[Trainer], None] | None = None
) -> TrainResult:
    """Run (or resume) Algorithm 1 into `out` (a temporary directory when None)."""
    return Trainer(cfg, out).run(on_step)
