"""Goal sets and the achievement rule for the pixel suites (paper §4.4), as the authors ran them.

The protocol (facts from the authors' code, see docs/atari.md):

* **Feasible ranges** (`measure_ranges`): the final states of `range_rollouts` (~500) uniform-
  random rollouts, each of a random length drawn uniformly from 1..T (rollouts cut short by the
  environment count too); range = max - min of each label over them; ranges below 0.01 count as 1.
* **Goals** (`goal_rollouts` + `diverse_goal_buffer`): the FINAL state of uniform-random rollouts
  of the full length T that the environment did not cut short (never a start state, never a state
  in the middle of a rollout). A fixed-size diverse buffer keeps them (Warde-Farley et al. 2019):
  the first `size` candidates fill it; each later candidate replaces a random member j when its
  nearest-neighbour distance to the other members is larger than j's. Training goals come from
  ~2,000 rollouts (1000 goals), the 30 evaluation goals per seed from ~200.
* **The rule** (`within_tolerance`): a goal is achieved when EVERY scored label is within 10% of
  its feasible range of the goal's label (strict <), judged at t = T or when the agent ends the
  episode. A goal set carries the ranges it was built with (`GoalSet.ranges`), saved in the same
  file, and is always judged by them, whichever seed's task judges it.

Rollouts record only labels and a small per-rollout payload of the final state (Atari: its frame;
DM Control: its physics state, rendered only when chosen as a goal), so thousands are cheap.
A goal's frame and labels always come from the SAME state (the authors' code paired a frame with
the next state's labels; see docs/atari.md).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.console import Stage
from glamor_mini.envs.base import GoalSet, SuiteEnv, Task
from glamor_mini.options import register_options
from glamor_mini.rollout import rollout
from glamor_mini.utils import atomic_write_bytes

TOLERANCE = 0.1
MIN_RANGE = 0.01
"""A feasible range below this counts as 1 (the authors' cut-off)."""
MAX_EXTRA_FACTOR = 50
"""`rollout_ends` gives up after this many times the asked rollouts when too few ran full length."""


def feasible_ranges(labels: np.ndarray, min_range: float = MIN_RANGE) -> np.ndarray:
    """(M, L) labels of random-policy states -> (L,) max - min, ranges < min_range replaced by 1."""
    labels = np.asarray(labels, dtype=np.float64)
    r = labels.max(axis=0) - labels.min(axis=0)
    return np.where(r < min_range, 1.0, r).astype(np.float32)


def within_tolerance(
    labels: np.ndarray,
    goal_labels: np.ndarray,
    ranges: np.ndarray,
    scored: np.ndarray | None = None,
    tol: float = TOLERANCE,
) -> np.ndarray:
    """The 10% rule. labels, goal_labels: (B, L); ranges: (L,); scored: indices or bool mask of
    the labels that count (default all). -> (B,) bool."""
    ok = per_label_within(labels, goal_labels, ranges, tol)
    if scored is not None:
        ok = ok[:, scored]
    return ok.all(axis=1)


def per_label_within(
    labels: np.ndarray, goal_labels: np.ndarray, ranges: np.ndarray, tol: float = TOLERANCE
) -> np.ndarray:
    """(B, L) bool: each label within tol * range of the goal's (for per-label rates)."""
    diff = np.abs(np.asarray(labels, np.float64) - np.asarray(goal_labels, np.float64))
    return diff < tol * np.asarray(ranges, np.float64)


# ---------------------------------------------------------------------------- random rollouts
@dataclass
class RolloutEnds:
    """The final states of n uniform-random rollouts.

    labels: (n, L) float32; lengths: (n,) actions taken; horizons: (n,) the length each rollout
    was given; payloads: one entry per rollout (whatever `keep` returned for its final state).
    """

    labels: np.ndarray
    lengths: np.ndarray
    horizons: np.ndarray
    payloads: list[Any]

    @property
    def full(self) -> np.ndarray:
        """(n,) bool: the rollout took all its actions (the env did not cut it short; a life
        lost on the very last step still counts, as in the authors' sampler)."""
        return self.lengths == self.horizons


def reset_seed(seed: int, i: int) -> int:
    """The env reset seed of rollout i of a batch seeded `seed` (below 2^32 for dm_control)."""
    return int(seed * 100_003 + i) % 2**32


def rollout_ends(
    env: SuiteEnv,
    n_actions: int,
    n_rollouts: int,
    horizon: int,
    seed: int,
    random_horizon: bool = False,
    keep: Callable[[SuiteEnv, np.ndarray, int | None], Any] | None = None,
    min_full: int = 0,
    reseed: bool = True,
    on_rollout: Callable[[], None] | None = None,
) -> RolloutEnds:
    """Run uniform-random rollouts and record their final states.

    Rollout i resets `env` with `reset_seed(seed, i)` (with `reseed=False` only rollout 0 is
    seeded and the later resets continue the env's own random streams: deterministic too, and
    cheaper where seeding is slow, e.g. ALE reloads the ROM), is given the horizon T (or, with
    `random_horizon`, one drawn uniformly from 1..T), and takes uniform-random actions until it
    has taken them all or the env ends it. One numpy Generator seeded `seed` draws the horizons
    and the actions, in rollout order. `keep(env, final_frame, reset_seed or None)` returns what
    to store for the final state. Runs at least `n_rollouts`, and more, one at a time, until
    `min_full` of them ran full length (ValueError after MAX_EXTRA_FACTOR * n_rollouts).
    `on_rollout()` is called after each rollout (a progress bar).
    """
    if n_rollouts < 1 or horizon < 1:
        raise ValueError(f"need n_rollouts >= 1 and horizon >= 1; got {n_rollouts}, {horizon}")
    rng = np.random.default_rng(seed)
    labels, lengths, horizons, payloads = [], [], [], []
    n_full, i, cap = 0, 0, MAX_EXTRA_FACTOR * max(n_rollouts, min_full)
    while i < n_rollouts or n_full < min_full:
        if i >= cap:
            raise ValueError(
                f"only {n_full} of {i} random rollouts ran their full {horizon} steps; "
                f"{min_full} are needed (shorten the horizon or ask for fewer goals)"
            )
        h = int(rng.integers(1, horizon + 1)) if random_horizon else horizon
        rs = reset_seed(seed, i) if reseed or i == 0 else None
        end = rollout(env, lambda: rng.integers(n_actions), h, seed=rs)
        labels.append(np.asarray(end.labels, np.float32))
        lengths.append(end.steps)
        horizons.append(h)
        payloads.append(None if keep is None else keep(env, end.frame, rs))
        n_full += end.steps == h
        i += 1
        if on_rollout is not None:
            on_rollout()
    return RolloutEnds(np.stack(labels), np.array(lengths), np.array(horizons), payloads)


def measure_ranges(
    env: SuiteEnv,
    n_actions: int,
    n_rollouts: int,
    horizon: int,
    seed: int,
    reseed: bool = True,
    on_rollout: Callable[[], None] | None = None,
) -> np.ndarray:
    """(L,) feasible ranges: max - min over the final states of `n_rollouts` random rollouts of
    random length 1..T (the authors: 500 rollouts, cut-short ones included)."""
    ends = rollout_ends(
        env,
        n_actions,
        n_rollouts,
        horizon,
        seed,
        random_horizon=True,
        reseed=reseed,
        on_rollout=on_rollout,
    )
    return feasible_ranges(ends.labels)


def diverse_goal_buffer(
    labels: np.ndarray, size: int, ranges: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Indices of `size` diverse rows of `labels` (M, L), streamed in row order.

    Rows 0..size-1 fill the buffer; each later row c draws a member j uniformly (one numpy
    Generator seeded `seed`) and replaces it when c's nearest-neighbour distance to the members
    other than j exceeds j's own. Distances are Euclidean in units of the feasible `ranges`
    (the authors used raw label units; dividing by the ranges keeps one wide label, e.g. a
    byte-valued x next to a small y, from deciding alone).
    """
    labels = np.asarray(labels, dtype=np.float64)
    M = labels.shape[0]
    if M < size:
        raise ValueError(f"need at least {size} candidate states for the goal buffer, got {M}")
    ranges = feasible_ranges(labels) if ranges is None else np.asarray(ranges, np.float64)
    x = labels / ranges
    rng = np.random.default_rng(seed)
    buf = np.arange(size)
    pts = x[:size].copy()

    def nn_dist(p: np.ndarray, skip: int) -> float:
        d = np.sqrt(((pts - p) ** 2).sum(axis=1))
        d[skip] = np.inf
        return float(d.min())

    for cand in range(size, M):
        j = int(rng.integers(size))
        if nn_dist(x[cand], j) > nn_dist(pts[j], j):
            buf[j] = cand
            pts[j] = x[cand]
    return buf


def choose_goals(
    ends: RolloutEnds, size: int, ranges: np.ndarray, scored: np.ndarray | None, seed: int
) -> np.ndarray:
    """Indices into `ends` of `size` diverse goals among the full-length rollouts' final states
    (diversity measured on the scored labels)."""
    full = np.flatnonzero(ends.full)
    lab = ends.labels[full]
    rng = np.asarray(ranges)
    if scored is not None:
        lab, rng = lab[:, scored], rng[scored]
    return full[diverse_goal_buffer(lab, size, rng, seed)]


# ---------------------------------------------------------------------------- saving
def save_goals(path: str | Path, goals: GoalSet, **meta: str) -> None:
    """Frames, labels and the goal set's ranges in one .npz, written atomically."""
    if goals.ranges is None:
        raise ValueError("a saved goal set must carry the feasible ranges it is judged by")
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        frames=goals.frames,
        labels=goals.labels,
        ranges=goals.ranges,
        **{f"meta_{k}": np.array(v) for k, v in meta.items()},
    )
    atomic_write_bytes(path, buf.getvalue())


def load_goals(path: str | Path) -> GoalSet:
    """A saved goal set, with its ranges."""
    try:
        with np.load(path) as data:
            return GoalSet(data["frames"], data["labels"], data["ranges"].astype(np.float32))
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"goal file {path} is unreadable ({err}); delete it to rebuild") from err


def load_or_build_goals(path: str | Path | None, build: Callable[[], GoalSet]) -> GoalSet:
    """Load saved goals (with their ranges) from `path`, or build, save and return them."""
    if path is not None and Path(path).exists():
        return load_goals(path)
    goals = build()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_goals(path, goals)
    return goals


register_options(
    "Atari and DM Control goal sets (§4.4)",
    ("goal_dir", "range_rollouts", "eval_goal_rollouts", "train_goal_rollouts"),
)


# ---------------------------------------------------------------------------- the task side
class RolloutGoalsMixin(Task):
    """Goal sets, feasible ranges and the 10% rule for a suite whose goals are final states of
    uniform-random rollouts (Atari, DM Control). The suite's task class provides:

    attributes  horizon, n_actions, n_train_goals, n_eval_goals, range_rollouts,
                eval_goal_rollouts, train_goal_rollouts, goal_dir (Path | None), seed,
                scored (indices of the labels the rule and the diversity use; None = all)
    methods     _goal_env() -> SuiteEnv for the rollouts (may skip rendering);
                _keep(env, final_frame, reset_seed) -> what to store of a final state;
                _frames_of(payloads) -> (G, c, H, W) uint8 frames of the chosen states;
                _goal_stem() -> file-name prefix naming the env and its settings
    optional    reseed_rollouts = False: seed only the first reset of each batch of rollouts
                (`rollout_ends`), for envs whose seeded reset is slow

    Per seed s: ranges from `range_rollouts` random-length rollouts (rollout seed 10 s + 1); the
    evaluation goals from `eval_goal_rollouts` full-length rollouts (10 s + 2); the training goals
    from `train_goal_rollouts` (10 s + 3), judged by the same ranges. Both sets are saved under
    goal_dir with their ranges and reloaded on rerun.
    """

    _goal_cache: dict[tuple[str, int], GoalSet] | None = None
    reseed_rollouts: bool = True
    """False: seed only the first reset of each batch of rollouts (envs whose seeded reset is
    slow)."""

    def _goal_sets(self) -> dict[tuple[str, int], GoalSet]:
        if self._goal_cache is None:
            self._goal_cache = {}
        return self._goal_cache

    def goal_path(self, kind: str, seed: int) -> Path | None:
        """Where the `kind` ('eval' or 'train') goal set of `seed` is saved (None: not saved)."""
        if self.goal_dir is None:
            return None
        size, n = self._goal_sizes(kind)
        name = f"{self._goal_stem()}-seed{seed}-{kind}{size}-of{n}-r{self.range_rollouts}.npz"
        return Path(self.goal_dir) / name

    def _goal_sizes(self, kind: str) -> tuple[int, int]:
        if kind == "eval":
            return self.n_eval_goals, self.eval_goal_rollouts
        if kind == "train":
            return self.n_train_goals, self.train_goal_rollouts
        raise ValueError(f"goal set kind {kind!r}: expected 'eval' or 'train'")

    def _build_goal_set(self, kind: str, seed: int) -> GoalSet:
        size, n = self._goal_sizes(kind)
        reseed = self.reseed_rollouts
        env = self._goal_env()
        what = f"{self._goal_stem()} seed {seed}"
        try:
            if kind == "eval":
                with Stage(f"{what}: feasible ranges", self.range_rollouts) as stage:
                    ranges = measure_ranges(
                        env,
                        self.n_actions,
                        self.range_rollouts,
                        self.horizon,
                        10 * seed + 1,
                        reseed,
                        on_rollout=stage.update,
                    )
            else:
                ranges = self.ranges(seed)
            rseed = 10 * seed + (2 if kind == "eval" else 3)
            label = "evaluation" if kind == "eval" else "training"
            with Stage(f"{what}: {size} {label} goals", n) as stage:
                ends = rollout_ends(
                    env,
                    self.n_actions,
                    n,
                    self.horizon,
                    rseed,
                    keep=self._keep,
                    min_full=size,
                    reseed=reseed,
                    on_rollout=stage.update,
                )
        finally:
            env.close()
        idx = choose_goals(ends, size, ranges, self.scored, seed=rseed)
        frames = self._frames_of([ends.payloads[i] for i in idx])
        return GoalSet(frames, ends.labels[idx].copy(), np.asarray(ranges, np.float32))

    def _goal_set(self, kind: str, seed: int) -> GoalSet:
        key = (kind, int(seed))
        cache = self._goal_sets()
        if key not in cache:
            path = self.goal_path(kind, seed)
            goals = load_or_build_goals(path, lambda: self._build_goal_set(kind, seed))
            size = self._goal_sizes(kind)[0]
            if len(goals) != size:
                raise ValueError(
                    f"{path} holds {len(goals)} goals but {size} are configured; delete it to "
                    "rebuild"
                )
            cache[key] = goals
        return cache[key]

    def eval_goals(self, seed: int = 0) -> GoalSet:
        """The fixed evaluation goals of `seed`, with their ranges (built once, saved, reused)."""
        return self._goal_set("eval", seed)

    def train_goals(self, seed: int = 0) -> GoalSet:
        """The training goals of `seed`, judged by the same ranges as its evaluation goals."""
        return self._goal_set("train", seed)

    def ranges(self, seed: int | None = None) -> np.ndarray:
        """(L,) feasible ranges of `seed` (default: the task's), saved with its evaluation goals."""
        ranges = self.eval_goals(self.seed if seed is None else seed).ranges
        assert ranges is not None
        return ranges

    def achieved(
        self, labels: np.ndarray, goal_labels: np.ndarray, ranges: np.ndarray | None = None
    ) -> np.ndarray:
        """(B, L) x (B, L) -> (B,) bool: every scored label within 10% of its feasible range.
        `ranges`: those of the judged goal set (default: the task seed's)."""
        r = self.ranges() if ranges is None else ranges
        return within_tolerance(labels, goal_labels, r, self.scored)

    def per_label_achieved(
        self, labels: np.ndarray, goal_labels: np.ndarray, ranges: np.ndarray | None = None
    ) -> np.ndarray:
        """(B, L) bool: each label (scored or not) alone within 10% of its feasible range."""
        return per_label_within(labels, goal_labels, self.ranges() if ranges is None else ranges)

    def optimal_steps(self, start_labels: np.ndarray, goal_labels: np.ndarray) -> None:
        return None


def plot_goal_grid(
    goal_frames: np.ndarray,
    final_frames: np.ndarray,
    achieved: np.ndarray,
    path: str | Path,
    max_goals: int = 10,
    title: str | None = None,
) -> None:
    """Save `goal_grid_figure(...)` to `path` (PNG, written atomically)."""
    fig = goal_grid_figure(goal_frames, final_frames, achieved, max_goals, title)
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    tmp.replace(path)


def goal_grid_figure(
    goal_frames: np.ndarray,
    final_frames: np.ndarray,
    achieved: np.ndarray,
    max_goals: int = 10,
    title: str | None = None,
):
    """Paper Fig. 11/12: goal frames (row "goal") above the agent's final frames (row "final
    frame"), each final frame framed green (goal achieved) or red (missed), as the legend says.
    Frames: (G, c, H, W) uint8; c = 1 (grayscale) or 3 (RGB); only the last frame of a stack is
    shown. With more than `max_goals` goals, `max_goals` evenly spaced ones are shown (a goal set
    listed in order, e.g. MiniGrid's cells row by row, would otherwise show one corner).
    -> a matplotlib Figure (not attached to pyplot)."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone
    from matplotlib.patches import Patch

    n = min(max_goals, len(goal_frames))
    pick = np.unique(np.linspace(0, len(goal_frames) - 1, n).round().astype(int))
    goal_frames, final_frames = goal_frames[pick], final_frames[pick]
    achieved = np.asarray(achieved)[pick]
    fig = Figure(figsize=(max(1.6 * n, 4.0), 4.0))
    axes = fig.subplots(2, n, squeeze=False)

    def show(ax, frame):
        img = frame[-3:].transpose(1, 2, 0) if frame.shape[0] % 3 == 0 else frame[-1]
        ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])

    for i in range(n):
        show(axes[0, i], goal_frames[i])
        show(axes[1, i], final_frames[i])
        color = "tab:green" if achieved[i] else "tab:red"
        for side in axes[1, i].spines.values():
            side.set_edgecolor(color)
            side.set_linewidth(3)
    axes[0, 0].set_ylabel("goal")
    axes[1, 0].set_ylabel("final frame")
    n_hit = int(np.sum(np.asarray(achieved[:n], bool)))
    handles = [
        Patch(facecolor="white", edgecolor="tab:green", linewidth=3, label=f"achieved ({n_hit})"),
        Patch(facecolor="white", edgecolor="tab:red", linewidth=3, label=f"missed ({n - n_hit})"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
