"""Appendix A.1 with learned models: the loaded-die task (glamor_mini.envs.die) trained and
probed next to the exact operators of die_operators.py.

Probes read, off trained models, the quantities die_operators.py computes exactly: GCSL's
pi(a | s_0, g, h = 1), GLAMOR's inverse model p(a | s_0, g), prior p(a | s_0), Eq. 8 scores of the
one-roll plans and the planner's actual choice; `DieRecorder` records them during training
(train's `on_step`), `train_die_variants` trains the four agents, `learned_vs_exact` puts them
next to the exact operators, and `die_figure` writes docs/figures/loaded_die.csv/.png (both dice,
3 seeds; `python -m glamor_mini.run appendix`).
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from glamor_mini.die_operators import (
    OPERATORS,
    iterate_operator,
)

# ====================================================================== A.1: learned models


def die_batch(task) -> tuple[torch.Tensor, torch.Tensor]:
    """The start observation repeated per goal and the goal frames: (G, 1, 1, n+1) uint8 each."""
    goals = task.eval_goals()
    G = len(goals)
    obs = torch.from_numpy(np.repeat(task.start_frame()[None], G, axis=0))
    return obs, torch.from_numpy(goals.frames)


@torch.no_grad()
def gcsl_table(model, task) -> np.ndarray:
    """GCSL's pi(a | s_0, g, h = 1) on the die: (G, A)."""
    obs, goal = die_batch(task)
    return model.probs(obs, goal, torch.ones(len(obs), dtype=torch.long)).cpu().numpy()


@torch.no_grad()
def glamor_tables(model, task, gamma: float = 0.99, clip: float | None = -3.15) -> dict:
    """GLAMOR's first token on the die: the inverse model p(a | s_0, g) (G, A) and the prior
    p(a | s_0) (A,), each renormalised over the actions (the prior also puts mass on END, learnt
    from the k = 0 relabellings of s_0; this rescales every action equally), and the Eq. 8
    scores of the one-roll plans [a, END] with and without the prior (G, A each)."""
    from glamor_mini.planner import score

    device = next(model.parameters()).device
    obs, goal = die_batch(task)
    G, A = len(obs), model.n_actions
    prev = torch.full((G, 1), A, dtype=torch.long, device=device)
    lp_inv, lp_pri = model.log_probs(obs.to(device), goal.to(device), prev)
    inv, pri = lp_inv[:, 0, :A].exp(), lp_pri[0, 0, :A].exp()
    out = {
        "inverse": (inv / inv.sum(1, keepdim=True)).cpu().numpy(),
        "prior": (pri / pri.sum()).cpu().numpy(),
    }
    acts = torch.arange(A).repeat(G).view(G * A, 1)
    rep_o, rep_g = obs.repeat_interleave(A, 0), goal.repeat_interleave(A, 0)
    ones = torch.ones(G * A, dtype=torch.long)
    for key, use_prior in (("score", True), ("score_no_prior", False)):
        s = score(model, rep_o, rep_g, acts, ones, gamma, clip, use_prior=use_prior)
        out[key] = s.view(G, A).cpu().numpy()
    return out


def planner_choices(model, task, settings, seed: int = 0) -> np.ndarray:
    """The action the real Eq. 8 planner (random shooting) picks for each goal face: (G,)."""
    from glamor_mini.planner import plan

    obs, goal = die_batch(task)
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    p = plan(model, obs, goal, 1, settings, gen)
    return p.actions[:, 0].cpu().numpy()


@dataclass
class DieRecorder:
    """train()'s on_step callback: every `every` agent steps, record the die policy tables.

    kind='gcsl': pi(a | s_0, g, h = 1). kind='glamor': inverse p(a | g), prior p(a) and the
    planner's choice per goal (with the evaluation settings of the run)."""

    kind: str
    every: int = 600
    steps: list[int] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)

    def __call__(self, trainer) -> None:
        last = self.steps[-1] if self.steps else -1
        if trainer.agent_steps // self.every <= last // self.every:
            return
        from glamor_mini.planner import PlannerSettings

        model, task = trainer.model, trainer.task
        was = model.training
        model.eval()
        if self.kind == "gcsl":
            row = {"policy": gcsl_table(model, task)}
        else:
            row = glamor_tables(model, task, trainer.cfg.gamma, trainer.cfg.clip_p_actions)
            settings = PlannerSettings.from_config(trainer.cfg)
            row["choice"] = planner_choices(model, task, settings, seed=len(self.steps))
        model.train(was)
        self.steps.append(trainer.agent_steps)
        self.tables.append(row)

    def series(self, key: str) -> np.ndarray:
        return np.stack([t[key] for t in self.tables])


DIE_VARIANTS: dict[str, dict] = {
    "GCSL (sample)": dict(algo="gcsl", gcsl_act="sample"),
    "GCSL (greedy)": dict(algo="gcsl", gcsl_act="greedy"),
    "GLAMOR": dict(),
    "GLAMOR, no prior": dict(planner_mode="no_prior", collect_prior=False),
}
"""The learned-model comparison of notebook 05: Config overrides on the 'die' preset."""


@dataclass
class DieRun:
    """One trained die agent: its config, train() result and the recorded policy tables."""

    cfg: object
    result: object
    recorder: DieRecorder

    def learned_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(agent steps, (R, G, A) tables): what the agent learned, comparable with
        `OperatorRun.tables`: GCSL's pi(a | g), GLAMOR's inverse model p(a | g)."""
        r = self.recorder
        return np.array(r.steps), r.series("policy" if r.kind == "gcsl" else "inverse")

    def final_choice(self) -> np.ndarray:
        """The action taken for each goal at the end: argmax pi (GCSL) or the planner's (G,)."""
        r = self.recorder
        last = r.tables[-1]
        return last["policy"].argmax(1) if r.kind == "gcsl" else last["choice"]


def train_die_variants(
    variants: dict[str, dict] | None = None,
    every: int = 600,
    progress: bool = True,
    **overrides,
) -> dict[str, DieRun]:
    """Train each variant on the 'die' preset (plus `overrides`) and record its die policy every
    `every` agent steps (one torch thread; no run directories are kept)."""
    from glamor_mini.resolve import make_config
    from glamor_mini.train import train

    variants = DIE_VARIANTS if variants is None else variants
    runs = {}
    for name, changes in tqdm(variants.items(), desc="die runs", disable=not progress):
        cfg = make_config("die", **{"torch_threads": 1, **overrides, **changes})
        rec = DieRecorder("gcsl" if cfg.algo == "gcsl" else "glamor", every)
        with tempfile.TemporaryDirectory(prefix="die-") as d:
            result = train(cfg, d, on_step=rec)
        runs[name] = DieRun(cfg, result, rec)
    return runs


def learned_vs_exact(
    loaded: str = "1",
    seeds: tuple[int, ...] = (0, 1, 2),
    variants: dict[str, dict] | None = None,
    last: int = 3,
    progress: bool = True,
    **overrides,
) -> list[dict]:
    """Train each variant on the die loaded `loaded` toward face 1 (preset 'die', whose final
    epsilon is the paper's 0.1) for each seed, and put the learned numbers next to the exact
    operator's (`iterate_operator` with the same final epsilon). One row per (variant, seed):

      p_loaded_g1: learned pi(loaded | g = 1) (GCSL) or inverse p(loaded | g = 1) (GLAMOR),
                   averaged over the last `last` recordings; exact_p_loaded_g1 the fixed point;
      choice / exact_choice: the final action per goal, as a string like "100000";
      success / exact_success: overall goal achievement (evaluation, no epsilon).
    """
    from glamor_mini.envs.die import outcome_probs
    from glamor_mini.resolve import make_config

    variants = DIE_VARIANTS if variants is None else variants
    eps = make_config("die", **overrides).eps_final
    P = outcome_probs(make_config("die").die_faces, loaded)
    rows = []
    for seed in seeds:
        runs = train_die_variants(
            variants, progress=progress, die_loaded=loaded, seed=seed, **overrides
        )
        for name, run in runs.items():
            ex = iterate_operator(name, P, 400, eps)
            _, tables = run.learned_table()
            rows.append(
                {
                    "die": loaded,
                    "variant": name,
                    "seed": seed,
                    "p_loaded_g1": float(tables[-last:, 0, 1].mean()),
                    "exact_p_loaded_g1": float(ex.loaded_for_goal_1[-1]),
                    "choice": "".join(map(str, run.final_choice().tolist())),
                    "exact_choice": "".join(map(str, ex.choice.tolist())),
                    "success": float(run.result.eval.goal_achievement),
                    "exact_success": ex.success,
                }
            )
    return rows


OPERATOR_STYLES: dict[str, dict] = {
    "GCSL (sample)": dict(color="tab:orange", ls="-", marker="o", lw=1.5),
    "GCSL (greedy)": dict(color="tab:orange", ls="--", marker="^", lw=1.5),
    "GLAMOR, no prior": dict(color="tab:blue", ls=":", marker="s", lw=2.0),
    "GLAMOR": dict(color="tab:blue", ls="-", marker="o", lw=3.5, alpha=0.45),
}
"""Line styles of the four agents in every die figure: GCSL orange, GLAMOR blue (the colours of
experiments.common.ALGO_COLORS), one dash pattern and marker each, so that curves that coincide
(greedy GCSL, GLAMOR with and without the prior all sit at 0.6 on the paper's die) stay visible."""

HALF_LABEL = "1/2: above it the argmax picks the loaded die"


def _style(name: str, k: int, every: int = 4) -> dict:
    """Matplotlib keywords for agent `name` (the k-th curve): its OPERATOR_STYLES entry with the
    markers of different curves placed on different iterations (markevery offset by k)."""
    st = dict(OPERATOR_STYLES.get(name, dict(marker="o", lw=1.5)))
    return {**st, "markersize": 5, "markevery": (k % every, every)}


def plot_die(
    exact: dict[str, np.ndarray],
    runs: dict[str, DieRun] | None = None,
    path: str | None = None,
    titles: tuple[str, str] = ("exact operator", "learned models (die preset)"),
):
    """Left: exact pi_t(loaded | g = 1) over iterations (one line per entry of `exact`);
    right: the learned agents' p(loaded | g = 1) (GCSL's pi, GLAMOR's inverse model) vs steps.
    The dotted grey line at 1/2 is where the argmax over the two dice flips."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    ncols = 1 if runs is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.8), squeeze=False)
    ax = axes[0, 0]
    for k, (label, series) in enumerate(exact.items()):
        ax.plot(np.arange(len(series)), series, label=label, **_style(label, k))
    ax.axhline(0.5, color="grey", lw=0.8, ls=":", label=HALF_LABEL)
    ax.set_xlabel("iteration t of the exact operator (collect, then distil)")
    ax.set_ylabel("p_t(loaded | g = 1)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(titles[0], fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    if runs is not None:
        ax = axes[0, 1]
        for k, (label, run) in enumerate(runs.items()):
            x, tables = run.learned_table()
            ax.plot(x, tables[:, 0, 1], label=label, **_style(label, k, every=1))
        ax.axhline(0.5, color="grey", lw=0.8, ls=":", label=HALF_LABEL)
        ax.set_xlabel("agent steps (one roll each)")
        ax.set_ylabel("learned p(loaded | g = 1)")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(titles[1], fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def plot_learned_vs_exact(
    rows: list[dict], eps: float = 0.1, n_iter: int = 30, path: str | None = None
):
    """One panel per die: the exact p_t(loaded | g = 1) of each agent over iterations (lines)
    and the learned values of every seed (markers right of the lines, same colours and shapes).
    Styles: OPERATOR_STYLES (curves that coincide stay visible); the dotted line is 1/2."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    from glamor_mini.envs.die import outcome_probs

    dice = list(dict.fromkeys(r["die"] for r in rows))
    fig, axes = plt.subplots(1, len(dice), figsize=(5.4 * len(dice), 4.4), squeeze=False)
    for ax, die in zip(axes[0], dice, strict=True):
        P = outcome_probs(6, str(die))
        for k, name in enumerate(OPERATORS):
            st = _style(name, k)
            ex = iterate_operator(name, P, n_iter, eps).loaded_for_goal_1
            ax.plot(np.arange(n_iter + 1), ex, label=f"{name}: exact", **st)
            learned = [r["p_loaded_g1"] for r in rows if r["die"] == die and r["variant"] == name]
            xs = np.full(len(learned), n_iter + 2 + 1.2 * k)
            ax.scatter(
                xs, learned, color=st["color"], marker=st["marker"], s=36, zorder=3,
                facecolors="none" if k % 2 else st["color"], label=f"{name}: learned, per seed",
            )  # fmt: skip
        ax.axhline(0.5, color="grey", lw=0.8, ls=":", label=HALF_LABEL)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(
            f"iteration of the exact operator (eps = {eps}); right: learned, one per seed"
        )
        ax.set_ylabel("p(loaded | g = 1)")
        seeds = len({r["seed"] for r in rows if r["die"] == die})
        what = "paper's die (loaded: always 1)" if str(die) == "1" else f"die loaded {die} to 1"
        ax.set_title(f"{what}; learned: die preset, {seeds} seeds", fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _write_rows(rows: list[dict], path: str) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def die_figure(
    out: str = "docs/figures/loaded_die",
    seeds: tuple[int, ...] = (0, 1, 2),
    dice: tuple[str, ...] = ("1", "0.5"),
    progress: bool = True,
) -> list[dict]:
    """The command behind the loaded-die figure of docs/results.md: the four agents of
    DIE_VARIANTS trained on each die for each seed (preset 'die', eps_final 0.1), next to the
    exact operators; writes OUT.csv (one row per die, agent and seed) and OUT.png."""
    from glamor_mini.resolve import make_config

    rows = []
    for die in dice:
        rows += learned_vs_exact(die, seeds, progress=progress)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    _write_rows(rows, f"{out}.csv")
    plot_learned_vs_exact(rows, make_config("die").eps_final, path=f"{out}.png")
    return rows


__all__ = [
    "DIE_VARIANTS",
    "HALF_LABEL",
    "OPERATOR_STYLES",
    "DieRecorder",
    "DieRun",
    "die_batch",
    "die_figure",
    "gcsl_table",
    "glamor_tables",
    "learned_vs_exact",
    "plot_die",
    "plot_learned_vs_exact",
    "planner_choices",
    "train_die_variants",
]
