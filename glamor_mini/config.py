"""Hyperparameters: one dataclass with a docstring under every field, and the `--set` parser.

Defaults follow the paper's Fig. 5 / Appendix A.3 table (AdamW, lr 5e-4, weight decay 0.01, replay
ratio 4, 50 policy trials, clip-p-actions -3.15, state size 512, LSTM hidden 64, ...). The named
presets applied on top of them (``gridworld``: the authors' grid-world demo, ``debug``: tiny
budgets for tests) are glamor_mini.presets. ``python -m glamor_mini.run --help`` lists every field.
This module is the bottom layer: it imports nothing of the package and no torch.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A configuration value (or preset, or field name) the library cannot accept."""


def check_choice(cfg: Any, name: str, accepted: Sequence[str]) -> None:
    """The one message for a field whose value is not in its registry (each registry calls it
    for its own field: agents.AGENTS for `algo`, models.ENCODERS for `encoder`, ...)."""
    value = getattr(cfg, name)
    if value not in accepted:
        raise ConfigError(f"{name}={value!r} is not accepted; choose one of {tuple(accepted)}")


@dataclass
class Config:
    # ------------------------------------------------------------ experiment
    algo: str = "glamor"
    """Algorithm: 'glamor' (this paper) or a Table 1 baseline: 'gcsl' (§3.6), 'discern' (§4.3)."""
    gcsl_act: str = "greedy"
    """GCSL only: 'greedy' (argmax, as Ghosh et al. act) or 'sample' (draw from pi, App. A.1)."""
    discern_n_step: int = 3
    """DISCERN only: n of the n-step double-DQN targets (Rainbow's 3); no bootstrap past T."""
    discern_gamma: float = 0.99
    """DISCERN only: the Q-learning discount (the planner's `gamma` is a different quantity)."""
    discern_decoys: int = 31
    """DISCERN only: K, decoy goals from the goal set in the reward model's (K+1)-way softmax."""
    discern_beta: float = 4.0
    """DISCERN only: inverse temperature beta of the softmax over cosines; 0 means K + 1 (the
    DISCERN paper's value as recalled). xi's loss settles the goal's margin over other states at
    a few nats of logit, so r_T's contrast is about 3.7 / beta: K + 1 = 32 leaves r_T ~ 0.9 on
    every cell of the 7x7 grid (docs/design.md, DISCERN's choices)."""
    discern_relabel: float = 0.5
    """DISCERN only: share of sampled transitions whose goal becomes their final frame (HER)."""
    discern_target_period: int = 0
    """DISCERN only: gradient updates between copies of the Q-network into the target network;
    0 = sized to the run: its U updates make 4x the C = ceil(T / n) copies r_T needs to reach
    t = 0, period = clamp(U // (4 C), 1, 100) (baselines/discern_target.py; grid preset: 100,
    Atari at 60k steps: 51). In eval.json; a run with fewer than C copies warns."""
    discern_xi_hindsight: bool = True
    """DISCERN only: xi also learns from relabelled pairs (final frame as goal); False = only
    the commanded goals (on data from a random policy xi then collapses to a constant)."""
    discern_dueling: bool = True
    """DISCERN only: dueling Q head V(s) + A(s, a) - mean A (Rainbow); False = a linear head."""
    discern_embed_size: int = 64
    """DISCERN only: size of the L2-normalised goal-achievement embedding xi."""
    suite: str = "gridworld"
    """Environment suite: 'gridworld', 'die', 'minigrid', 'atari', 'dmc' (see glamor_mini.envs)."""
    env: str = "MiniGrid-Empty-8x8-v0"
    """MiniGrid: the environment id (e.g. MiniGrid-Empty-8x8-v0, MiniGrid-FourRooms-v0)."""
    game: str = "Pong"
    """Atari: the game (one of the 14 in docs/atari.md, e.g. Pong, MsPacman, Seaquest)."""
    task: str = "cartpole/balance"
    """DM Control: domain/task (e.g. cartpole/balance, point_mass/easy, reacher/hard)."""
    shadows: bool = True
    """DM Control: render shadows (dm_control's default); false is 2-3x faster on a CPU."""
    goal_dir: str = "runs/goals"
    """Pixel suites (DMC, Atari): folder where goal sets are saved per env and seed ('' = off)."""
    layout: str = "empty-7x7"
    """Grid world: built-in layout (empty-7x7, empty-13x13, mountain, four-rooms) or a text file."""
    allow_stay: bool = False
    """Grid world: add a fifth 'stay' action (naive_end can then wait on its goal, §4.7.2)."""
    collect_start: str = "fixed"
    """Grid world: where collection episodes start: 'fixed' (the layout's start, as evaluation
    always does) or 'random' (a uniformly drawn free cell: exploring starts, not in the paper)."""
    die_faces: int = 6
    """Die (App. A.1): number of faces; the goals are the faces 1..n, uniformly."""
    die_loaded: str = "1"
    """Die: loaded die's P(face 1), P(face 2), ..., comma-separated; the rest is spread evenly."""
    horizon: int = 50
    """T: agent steps per episode; plans after t steps are at most T - t actions long (§4.4).
    Grid world: 0 derives T from the layout (farthest cell from the start + 4), printed."""
    seed: int = 0
    """Seed for every random number generator of the run (model init, envs, replay, planner)."""
    device: str = "auto"
    """Torch device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:1', ..."""
    frame_stack: int = 4
    """Pixel suites: frames per observation (goals are one frame). The grid world uses 1."""
    torch_threads: int = 0
    """CPU threads for torch; 0 = automatic (at most 2 for the small MLP models: more only add
    overhead there)."""
    amp: bool = False
    """bfloat16 autocast for the encoders (the sequence heads stay float32), on CUDA and on CPUs
    with native bfloat16 (AVX512-BF16 / AMX; ignored with a warning elsewhere). On such a CPU an
    Atari `--scale cpu` update is ~1.4x faster and learns alike (bench/amp_learning.py)."""

    # ------------------------------------------------------------ model (§4.2)
    encoder: str = "impala"
    """Observation encoder: 'mlp' (small grid observations), 'keypoint' (spatial-softmax
    coordinates; grids with interior walls), 'impala' (IMPALA 'large' ResNet), 'auto' (grid:
    by layout)."""
    state_size: int = 512
    """Size of the encoder output and of the (state, goal) context ('state size' in Fig. 5)."""
    impala_channels: str = "16,32,32"
    """IMPALA encoder: channels of its 3 stages, comma-separated (paper: 16,32,32)."""
    mlp_hidden: int = 256
    """Width of the hidden layer of the MLP encoder."""
    lstm_hidden: int = 64
    """Hidden size of each one-layer LSTM (inverse model and action prior)."""
    alpha: float = 1.0
    """Weight of the action prior's NLL in the loss (Eq. 9)."""

    # ------------------------------------------------------------ planner (Eq. 8)
    n_candidates: int = 50
    """N: candidate plans sampled in parallel at evaluation ('policy trials')."""
    collect_n_candidates: int = 0
    """Candidates for the collection-time planner (Fig. 6 ablation); 0 means n_candidates."""
    collect_prior: bool = True
    """Use the action prior in the collection-time planner (Fig. 6 ablation: False = prior off)."""
    gamma: float = 0.99
    """Eq. 8 discount: each action adds log(gamma) to a plan's score; smaller -> shorter plans."""
    clip_p_actions: float = -3.15
    """Tokens with log p_inverse below this get z = -20 (nearly excluded); >= 0 disables."""
    planner_mode: str = "guided"
    """Evaluation planner: 'guided' (softmax(z)), 'sparse' (uniform, §4.7.3), 'no_prior'."""
    termination: str = "early"
    """Evaluation termination: 'early' (END allowed), 'plan_end' (end exactly at T), 'naive_end'."""

    # ------------------------------------------------------------ collection (§3.5)
    total_steps: int = 500_000
    """Agent steps to collect (the x-axis of the paper's curves)."""
    n_envs: int = 8
    """Environments stepped together; the planner plans for all of them in one batch."""
    collect_policy: str = "planner"
    """Training-data policy: 'planner' (open-loop plans, epsilon-greedy) or 'random' (Fig. 7)."""
    eps_start: float = 1.0
    """Epsilon of the epsilon-greedy collection policy at step 0."""
    eps_final: float = 0.1
    """Epsilon after eps_steps agent steps (linear decay)."""
    eps_steps: int = 300_000
    """Agent steps over which epsilon decays linearly from eps_start to eps_final."""
    buffer_size: int = 1_000_000
    """Replay capacity in stored frames (each frame stored once)."""

    # ------------------------------------------------------------ learning (Eq. 9)
    learning_starts: int = 50_000
    """Agent steps collected before the first gradient update."""
    replay_ratio: float = 4.0
    """Training tuples sampled per collected agent step (after learning_starts)."""
    batch_size: int = 200
    """Relabelled tuples per gradient update."""
    lr: float = 5e-4
    """AdamW learning rate."""
    lr_final: float = 0.0
    """Learning rate reached at total_steps, decayed linearly from lr_decay_from * total_steps;
    0 keeps lr constant (the paper). The grid preset decays to 5e-5: at a constant lr the stop
    decision at wall cells flips with SGD noise (docs/investigations.md); DISCERN, too, ends
    higher with the decay (docs/design.md)."""
    lr_decay_from: float = 0.6
    """Fraction of total_steps after which the learning rate starts decaying (with lr_final)."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Gradient-norm clip; 0 disables."""

    # ------------------------------------------------------------ evaluation & logs
    eval_every: int = 50_000
    """Evaluate every this many agent steps (and once at the end); 0 = only at the end."""
    eval_episodes: int = 1
    """Episodes per evaluation goal."""
    train_goals: int = 1000
    """Size of the training goal set (suites with a sampled goal set; the grid uses every cell)."""
    n_eval_goals: int = 30
    """Fixed evaluation goals per environment and seed (pixel suites; the grid uses every cell)."""
    range_rollouts: int = 500
    """Pixel suites: random rollouts of random length 1..T whose final states measure the
    feasible ranges of the 10% rule (the authors: 500)."""
    eval_goal_rollouts: int = 200
    """Pixel suites: full-length random rollouts whose final states are the candidates for the
    n_eval_goals evaluation goals (the authors' diverse evaluation set: 200)."""
    train_goal_rollouts: int = 2000
    """Pixel suites: full-length random rollouts whose final states are the candidates for the
    train_goals training goals (the authors: twice the goals, 2000)."""
    log_every: int = 5_000
    """Write a progress.csv / TensorBoard row every this many agent steps."""
    checkpoint_every: int = 50_000
    """Write ckpt.pt every this many agent steps (and at the end); 0 = only at the end."""
    save_replay: bool = True
    """Include the replay buffer in checkpoints, so that a resumed run samples from the same data
    (not bit-identical: see docs/run_directory.md). Without it a resumed run keeps its weights,
    optimiser, counters and RNG states but starts from an empty replay; the paper-scale presets
    leave it out (a 500k-step Atari replay is ~4.25 GB per checkpoint)."""
    progress: bool = True
    """Show a tqdm progress bar."""

    # ------------------------------------------------------------ validation and helpers
    def validate(self) -> Config:
        """Raise ConfigError naming the first bad field and what is accepted; return self.

        Checks what this dataclass knows: types, finite numbers, ranges. The fields whose values
        name an entry of a registry (algo, suite, encoder, planner_mode, ...) are checked by that
        registry (`glamor_mini.resolve.resolve_config` asks each one); horizon 0 and encoder
        'auto' are placeholders the suite resolves there (the grid world derives them)."""
        _check_types(self)
        positive = (
            "horizon",
            "n_candidates",
            "state_size",
            "mlp_hidden",
            "lstm_hidden",
            "total_steps",
            "n_envs",
            "buffer_size",
            "batch_size",
            "eval_episodes",
            "train_goals",
            "log_every",
            "range_rollouts",
            "eval_goal_rollouts",
            "train_goal_rollouts",
        )
        for name in positive:
            if name == "horizon" and self.horizon == 0:
                continue  # "derive it" (grid world): the suite resolves it (resolve_config)
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if not 0 <= self.seed < 2**32:  # negative: gymnasium refuses it at evaluation only
            raise ConfigError(f"seed={self.seed} must be in [0, 2**32)")
        nonneg = (
            "torch_threads",
            "collect_n_candidates",
            "eps_steps",
            "learning_starts",
            "replay_ratio",
            "weight_decay",
            "grad_clip",
            "eval_every",
            "checkpoint_every",
            "alpha",
        )
        for name in nonneg:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 0")
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"gamma={self.gamma} must be in (0, 1]")
        for name in ("discern_n_step", "discern_decoys"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if self.discern_target_period < 0:
            raise ConfigError(
                f"discern_target_period={self.discern_target_period} must be >= 1, or 0 to size "
                "it to the run"
            )
        if self.discern_embed_size < 1 or self.discern_beta < 0:
            raise ConfigError("discern_embed_size must be >= 1 and discern_beta >= 0")
        if not (0.0 < self.discern_gamma <= 1.0 and 0.0 <= self.discern_relabel <= 1.0):
            raise ConfigError("discern_gamma must be in (0, 1] and discern_relabel in [0, 1]")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr} must be > 0")
        if self.lr_final < 0 or not 0.0 <= self.lr_decay_from <= 1.0:
            raise ConfigError(
                f"lr_final={self.lr_final} must be >= 0 and lr_decay_from={self.lr_decay_from} "
                "in [0, 1]"
            )
        for name in ("eps_start", "eps_final"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}={getattr(self, name)} must be in [0, 1]")
        if self.horizon > 0 and self.buffer_size < 2 * (self.horizon + 1):
            raise ConfigError(
                f"buffer_size={self.buffer_size} must hold at least two trajectories "
                f"(>= {2 * (self.horizon + 1)} frames for horizon {self.horizon})"
            )
        return self

    def lr_scale(self, agent_steps: int) -> float:
        """The learning-rate multiplier at `agent_steps`: 1 until lr_decay_from * total_steps,
        then linear to lr_final / lr at total_steps (1 throughout when lr_final = 0). A function
        of agent_steps, so a resumed run continues the schedule."""
        if self.lr_final <= 0:
            return 1.0
        start = self.lr_decay_from * self.total_steps
        span = max(self.total_steps - start, 1.0)
        frac = min(max((agent_steps - start) / span, 0.0), 1.0)
        return 1.0 + frac * (self.lr_final / self.lr - 1.0)

    def updates_due(self, agent_steps: int) -> int:
        """Gradient updates made by `agent_steps` (the trainer's `updates_owed` and U):
        floor(replay_ratio * (agent_steps - learning_starts) / batch_size), 0 before."""
        steps = max(0, agent_steps - self.learning_starts)
        return math.floor(self.replay_ratio * steps / self.batch_size)

    def expected_updates(self) -> int:
        """U: the gradient updates a run of total_steps makes."""
        return self.updates_due(self.total_steps)

    def warnings(self) -> list[str]:
        """Settings that are valid but almost surely not meant (one line each; the CLI prints
        them): a budget that ends before the first gradient update (Algorithm 1); then what
        the registered checks say (`register_warning`: DISCERN's target schedule)."""
        if self.expected_updates() < 1:  # fewer than one gradient update of batch_size tuples
            return [
                f"total_steps={self.total_steps} with learning_starts={self.learning_starts}, "
                f"replay_ratio={self.replay_ratio}, batch_size={self.batch_size} gives no "
                "gradient update: the model is evaluated untrained (raise --total_steps or "
                "lower --learning_starts)"
            ]
        return [line for check in WARNING_CHECKS if (line := check(self)) is not None]

    def replace(self, **overrides: Any) -> Config:
        """A copy with some fields changed (unknown names raise ConfigError)."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown config field(s) {sorted(unknown)}; see Config docs")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        return cls().replace(**data)


WARNING_CHECKS: list[Callable[[Config], str | None]] = []
"""Checks of Config.warnings() registered by the modules that own the fields they read (this
module imports nothing of the package): each returns one line or None."""


def register_warning(check: Callable[[Config], str | None]) -> None:
    """Add a check to Config.warnings() (once, however often its module is imported)."""
    if check not in WARNING_CHECKS:
        WARNING_CHECKS.append(check)


_TYPES: dict[str, type] = {
    f.name: {"int": int, "float": float, "str": str, "bool": bool}[str(f.type)]
    for f in dataclasses.fields(Config)
}


def _check_types(cfg: Config) -> None:
    """ConfigError unless every field has its declared type (an int where a float is declared is
    fine; a bool is not an int) and every float is finite (inf / nan would train on NaN and
    exit 0)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        expected = _TYPES[f.name]
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ConfigError(
                f"{f.name}={value!r} has type {type(value).__name__}; expected {expected.__name__}"
            )
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if _TYPES[f.name] is float and not math.isfinite(value):
            raise ConfigError(f"{f.name}={value} must be a finite number")


def field_docs() -> dict[str, str]:
    """The docstring written under each Config field (parsed from this module's source)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Config)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def parse_value(name: str, text: str, where: str) -> Any:
    """Text from a command line -> the type of Config field `name` (ConfigError if not);
    `where` names the option in the message (e.g. "--set 'horizon=2.5'")."""
    types = {f.name: str(f.type) for f in dataclasses.fields(Config)}
    if name not in types:
        raise ConfigError(f"{where}: {name!r} is not a Config field (see run --help)")
    kind = types[name]
    if kind == "bool":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{where}: expected true or false, got {text!r}")
        return text.lower() in ("true", "1", "yes")
    try:
        if kind == "int":
            number = float(text)  # accepts 1e5 as the run CLI does
            if not number.is_integer():
                raise ValueError
            return int(number)
        return {"float": float, "str": str}[kind](text)
    except (ValueError, OverflowError):
        raise ConfigError(f"{where}: expected {kind} for {name}, got {text!r}") from None


def add_set_argument(parser: Any, help: str = "override Config fields") -> None:
    """The one `--set FIELD=VALUE ...` option of every command line (parse it with `parse_set`):
    several pairs after one --set, or --set repeated; both add up."""
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="FIELD=VALUE",
        help=f"{help} (several after one --set, or --set repeated)",
    )


def parse_set(items: list[str]) -> dict[str, Any]:
    """['shadows=false', 'horizon=50'] -> typed overrides, by each Config field's type (the one
    FIELD=VALUE parser of every command line: run table1, floor). ConfigError names the item."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected FIELD=VALUE with a Config field name")
        out[name] = parse_value(name, text, f"--set {item!r}")
    return out


def __getattr__(name: str) -> Any:
    if name == "make_config":  # its old home: this module cannot resolve (it imports nothing)
        raise ImportError(
            "make_config lives in glamor_mini.resolve (also glamor_mini.make_config): "
            "`from glamor_mini import make_config`; glamor_mini.presets.preset_config builds an "
            "unresolved Config"
        )
    if name in ("PRESETS", "preset_config"):  # their old home, below the presets' module
        raise ImportError(
            f"{name} lives in glamor_mini.presets: `from glamor_mini.presets import {name}` "
            "(glamor_mini.PRESETS too)"
        )
    raise AttributeError(f"module 'glamor_mini.config' has no attribute {name!r}")


__all__ = [
    "Config",
    "ConfigError",
    "WARNING_CHECKS",
    "check_choice",
    "register_warning",
    "field_docs",
    "add_set_argument",
    "parse_set",
    "parse_value",
]
