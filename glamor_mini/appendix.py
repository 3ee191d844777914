"""Appendix A.1 computed: GCSL vs GLAMOR on a one-step MDP, exactly and with learned models.
(Appendix A.2, causally correct models, is glamor_mini.causal.)

Exact (Eq. 11-12). In a one-step MDP with goal distribution p(g) and outcome probabilities
p(s = g | a), GCSL that distils its own relabelled on-policy data perfectly evolves as

    p_t(a)          = sum_g' p(g') beta_t(a | g')                          (Eq. 11)
    pi_{t+1}(a | g) = p(s = g | a) p_t(a) / p_t(s = g)                      (Eq. 12)

where beta_t is the data-collection policy: beta_t = pi_t when GCSL samples from its policy
(the paper's assumption), or argmax pi_t when it acts greedily (optionally mixed with eps-uniform).
GLAMOR instead picks argmax_a p(a | g) / p(a) = argmax_a p(s = g | a) (Bayes: the data's p(a)
cancels), which is optimal whatever policy collected the data, provided p(a) > 0.

Four agents, exactly (`iterate_operator`): sampling GCSL, greedy GCSL, GLAMOR without the prior
(which with T = 1 plans argmax_a p(a | g): the greedy GCSL operator, step for step) and GLAMOR,
each distilling its own epsilon-greedy data. On the paper's die greedy GCSL / no-prior GLAMOR keep
the loaded die (pi(loaded | 1) -> 6/11 at eps = 0, 0.6 at eps = 0.1) but "fair everywhere" is a
second, absorbing fixed point; on a die loaded 0.3 toward face 1 they lose it from uniform.

Learned: probes that read the same quantities off trained models on the die task
(glamor_mini.envs.die): GCSL's pi(a | s_0, g, h = 1), GLAMOR's inverse model p(a | s_0, g), prior
p(a | s_0), Eq. 8 scores of the one-roll plans and the planner's actual choice; `DieRecorder`
records them during training (train's `on_step`), `train_die_variants` trains the four agents,
`learned_vs_exact` puts them next to the exact operators, and `python -m glamor_mini.appendix`
writes docs/figures/loaded_die.csv/.png (both dice, 3 seeds).

Shapes: policies are (G, A) arrays (goal rows, action columns); p_outcome is (A, G).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

ACTS = ("sample", "greedy")

# ====================================================================== A.1: exact GCSL operator


def _check(pi: np.ndarray, p_outcome: np.ndarray, goal_probs: np.ndarray | None) -> np.ndarray:
    A, G = p_outcome.shape
    if pi.shape != (G, A):
        raise ValueError(f"policy must have shape (G, A) = ({G}, {A}); got {pi.shape}")
    if not np.allclose(pi.sum(1), 1) or (pi < 0).any():
        raise ValueError("each policy row pi(. | g) must be a probability distribution")
    gp = np.full(G, 1.0 / G) if goal_probs is None else np.asarray(goal_probs, dtype=float)
    if gp.shape != (G,) or not np.isclose(gp.sum(), 1):
        raise ValueError(f"goal_probs must be a distribution over the {G} goals")
    return gp


def uniform_policy(n_goals: int, n_actions: int) -> np.ndarray:
    return np.full((n_goals, n_actions), 1.0 / n_actions)


def optimal_policy(p_outcome: np.ndarray) -> np.ndarray:
    """The deterministic policy choosing argmax_a p(s = g | a) for each goal: (G, A) one-hot."""
    A, G = p_outcome.shape
    return np.eye(A)[p_outcome.argmax(axis=0)]


def behaviour(pi: np.ndarray, act: str = "sample", eps: float = 0.0) -> np.ndarray:
    """The data-collection policy of a GCSL agent with policy pi: sampling from pi or its argmax,
    mixed with a uniformly random action with probability eps. (G, A) -> (G, A)."""
    if act not in ACTS:
        raise ValueError(f"act={act!r} is not accepted; choose one of {ACTS}")
    if not 0 <= eps <= 1:
        raise ValueError(f"eps={eps} must be in [0, 1]")
    A = pi.shape[1]
    if act == "sample":
        base = pi
    else:  # argmax, ties broken uniformly at random (so a uniform pi_0 acts uniformly)
        top = np.isclose(pi, pi.max(axis=1, keepdims=True))
        base = top / top.sum(axis=1, keepdims=True)
    return (1 - eps) * base + eps / A


def action_marginal(beta: np.ndarray, goal_probs: np.ndarray) -> np.ndarray:
    """Eq. 11: p_t(a) = sum_g p(g) beta_t(a | g). (G, A), (G,) -> (A,)."""
    return goal_probs @ beta


def gcsl_step(
    pi: np.ndarray,
    p_outcome: np.ndarray,
    goal_probs: np.ndarray | None = None,
    act: str = "sample",
    eps: float = 0.0,
) -> np.ndarray:
    """One GCSL iteration with exact distillation (Eq. 12): collect with `behaviour(pi, act, eps)`,
    relabel, fit pi_{t+1}(a | g) = p(s = g | a) p_t(a) / p_t(s = g). A goal that the data never
    reaches (p_t(s = g) = 0) has no relabelled example: its row is left unchanged."""
    gp = _check(pi, p_outcome, goal_probs)
    p_a = action_marginal(behaviour(pi, act, eps), gp)  # (A,)
    joint = p_outcome.T * p_a[None, :]  # (G, A): p(s = g | a) p_t(a)
    p_s = joint.sum(axis=1, keepdims=True)  # p_t(s = g)
    return np.where(p_s > 0, joint / np.where(p_s > 0, p_s, 1.0), pi)


def iterate_gcsl(
    pi0: np.ndarray,
    p_outcome: np.ndarray,
    n_iter: int,
    goal_probs: np.ndarray | None = None,
    act: str = "sample",
    eps: float = 0.0,
) -> np.ndarray:
    """pi_0 .. pi_n under `gcsl_step`: (n_iter + 1, G, A)."""
    out = [np.asarray(pi0, dtype=float)]
    for _ in range(n_iter):
        out.append(gcsl_step(out[-1], p_outcome, goal_probs, act, eps))
    return np.stack(out)


def success_rates(beta: np.ndarray, p_outcome: np.ndarray) -> np.ndarray:
    """p(s = g) when acting with beta(. | g): sum_a beta(a | g) p(s = g | a). -> (G,)."""
    return (beta * p_outcome.T).sum(axis=1)


def overall_success(
    beta: np.ndarray, p_outcome: np.ndarray, goal_probs: np.ndarray | None = None
) -> float:
    gp = _check(beta, p_outcome, goal_probs)
    return float(gp @ success_rates(beta, p_outcome))


def glamor_choice(p_outcome: np.ndarray) -> np.ndarray:
    """GLAMOR's exact choice argmax_a p(a | g) / p(a) = argmax_a p(s = g | a): (G,) actions."""
    return p_outcome.argmax(axis=0)


def bayes_choices(
    beta: np.ndarray, p_outcome: np.ndarray, goal_probs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """From data collected with beta, the exact inverse model p(a | g) and prior p(a) give
    (argmax_a p(a | g) / p(a), argmax_a p(a | g)): GLAMOR with and without its prior. (G,), (G,).
    Actions the data never takes (p(a) = 0) are excluded from the ratio."""
    gp = _check(beta, p_outcome, goal_probs)
    p_a = action_marginal(beta, gp)
    inv = gcsl_step(beta, p_outcome, gp)  # p(a | s = g) of the data (eps = 0, act = sample)
    ratio = np.where(p_a[None] > 0, inv / np.where(p_a > 0, p_a, 1.0)[None], -np.inf)
    return ratio.argmax(axis=1), inv.argmax(axis=1)


# ====================================================================== A.1: three agents, exactly

OPERATORS = ("GCSL (sample)", "GCSL (greedy)", "GLAMOR, no prior", "GLAMOR")
"""The agents whose exact learning dynamics `iterate_operator` computes (same order as
DIE_VARIANTS)."""


@dataclass
class OperatorRun:
    """The exact iteration of one agent on a one-step MDP.

    tables: (n_iter + 1, G, A) what the agent learns at each iteration: GCSL's pi_t(a | g), or
    GLAMOR's inverse model p_t(a | g) (both the Bayes posterior of the data, Eq. 12).
    acting: (G, A) the final evaluation policy (no epsilon): pi_T itself (sampling GCSL), the
    argmax of pi_T (greedy GCSL), argmax_a p_T(a | g) (no prior) or argmax_a p_T(a | g) / p_T(a).
    """

    name: str
    tables: np.ndarray
    acting: np.ndarray
    p_outcome: np.ndarray

    @property
    def loaded_for_goal_1(self) -> np.ndarray:
        """(n_iter + 1,) the learned p_t(loaded | g = 1) (action 1, goal row 0)."""
        return self.tables[:, 0, 1]

    @property
    def choice(self) -> np.ndarray:
        """(G,) the action the final policy takes most often per goal."""
        return self.acting.argmax(axis=1)

    @property
    def success(self) -> float:
        return overall_success(self.acting, self.p_outcome)


def _one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    return np.eye(n_actions)[actions]


def iterate_operator(
    name: str,
    p_outcome: np.ndarray,
    n_iter: int = 60,
    eps: float = 0.0,
    goal_probs: np.ndarray | None = None,
) -> OperatorRun:
    """The exact dynamics of one agent from the uniform policy, with perfect distillation of its
    own epsilon-greedy on-policy data at every iteration (Eq. 11-12 generalised):

      * 'GCSL (sample)':    data from (1 - eps) pi_t + eps uniform;      pi_{t+1} = Bayes(data)
      * 'GCSL (greedy)':    data from eps-greedy argmax_a pi_t(a | g);   pi_{t+1} = Bayes(data)
      * 'GLAMOR, no prior': data from eps-greedy argmax_a p_t(a | g);    p_{t+1} = Bayes(data).
        The planner without the prior (Eq. 8 with z = log p_theta, T = 1) picks argmax_a
        p(a | g), and the inverse model is the Bayes posterior of the data: THE SAME operator as
        greedy GCSL, step for step.
      * 'GLAMOR':           data from eps-greedy argmax_a p_t(a | g) / p_t(a), with p_t(a) the
        data's action marginal (the prior). By Bayes the ratio is p(s = g | a) / p_t(s = g), so
        the choice is argmax_a p(s = g | a), optimal from any data with p_t(a) > 0.

    Ties in an argmax are broken uniformly at random (a uniform table acts uniformly).
    """
    if name not in OPERATORS:
        raise ValueError(f"operator {name!r} is not accepted; choose one of {OPERATORS}")
    A, G = p_outcome.shape
    gp = _check(uniform_policy(G, A), p_outcome, goal_probs)
    table = uniform_policy(G, A)  # pi_0, or p_0(a | g) of uniformly random data
    prior = np.full(A, 1.0 / A)  # p_0(a)
    tables = [table]

    def act_greedy(scores: np.ndarray) -> np.ndarray:
        return behaviour(scores / scores.sum(axis=1, keepdims=True), "greedy")

    def ratio_policy(tab: np.ndarray, pri: np.ndarray) -> np.ndarray:
        r = np.where(pri[None] > 0, tab / np.where(pri > 0, pri, 1.0)[None], 0.0)
        return act_greedy(r + 1e-300 * (pri[None] > 0))

    for _ in range(n_iter):
        if name == "GCSL (sample)":
            beta = behaviour(table, "sample", eps)
        elif name in ("GCSL (greedy)", "GLAMOR, no prior"):
            beta = behaviour(table, "greedy", eps)
        else:
            beta = (1 - eps) * ratio_policy(table, prior) + eps / A
        prior = action_marginal(beta, gp)
        table = gcsl_step(beta, p_outcome, gp)  # Bayes posterior p(a | s = g) of beta's data
        tables.append(table)
    if name == "GCSL (sample)":
        acting = table
    elif name == "GLAMOR":
        acting = ratio_policy(table, prior)
    else:
        acting = behaviour(table, "greedy")
    return OperatorRun(name, np.stack(tables), acting, p_outcome)


def fixed_points(
    name: str, p_outcome: np.ndarray, eps: float = 0.1, goal_probs: np.ndarray | None = None
) -> list[tuple[np.ndarray, float]]:
    """Every deterministic choice (one action per goal) that reproduces itself under the exact
    operator of a greedy agent ('GCSL (greedy)', 'GLAMOR, no prior' or 'GLAMOR'): collect with
    eps-greedy(choice), fit the Bayes posterior (and prior), act greedily again. Returns
    [(choice (G,), p(loaded | g = 1) of that data)]: where a learned agent can end up, whatever
    route its noisy estimates took. (Brute force over A^G choices: small MDPs only.)"""
    import itertools

    if name not in OPERATORS[1:]:
        raise ValueError(f"fixed points of {name!r}: choose one of {OPERATORS[1:]}")
    A, G = p_outcome.shape
    gp = _check(uniform_policy(G, A), p_outcome, goal_probs)
    out = []
    for c in itertools.product(range(A), repeat=G):
        choice = np.array(c)
        beta = (1 - eps) * _one_hot(choice, A) + eps / A
        table = gcsl_step(beta, p_outcome, gp)
        if name == "GLAMOR":
            prior = action_marginal(beta, gp)
            score = np.where(prior > 0, table / np.where(prior > 0, prior, 1.0), -np.inf)
        else:
            score = table
        if np.array_equal(score.argmax(axis=1), choice):
            out.append((choice, float(table[0, 1])))
    return out


def exact_operators(
    p_outcome: np.ndarray, n_iter: int = 60, eps: float = 0.0
) -> dict[str, OperatorRun]:
    """`iterate_operator` for each of OPERATORS."""
    return {n: iterate_operator(n, p_outcome, n_iter, eps) for n in OPERATORS}


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
    "OPERATORS",
    "OPERATOR_STYLES",
    "OperatorRun",
    "exact_operators",
    "fixed_points",
    "iterate_operator",
    "learned_vs_exact",
    "plot_learned_vs_exact",
    "DieRecorder",
    "DieRun",
    "die_figure",
    "plot_die",
    "train_die_variants",
    "action_marginal",
    "bayes_choices",
    "behaviour",
    "gcsl_step",
    "gcsl_table",
    "glamor_choice",
    "glamor_tables",
    "iterate_gcsl",
    "optimal_policy",
    "overall_success",
    "planner_choices",
    "success_rates",
    "uniform_policy",
]


def main(argv: list[str] | None = None) -> int:
    """python -m glamor_mini.appendix [--out PATH] [--seeds 0 1 2] [--dice 1 0.5]"""
    p = argparse.ArgumentParser(
        prog="python -m glamor_mini.run appendix",
        description="Appendix A.1: exact operators and learned agents on two loaded dice.",
    )
    p.add_argument("--out", default="docs/figures/loaded_die", help="path without suffix")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--dice", nargs="+", default=["1", "0.5"], help="loaded dice (die_loaded values)"
    )
    args = p.parse_args(argv)
    rows = die_figure(args.out, tuple(args.seeds), tuple(args.dice))
    for r in rows:
        print(json.dumps(r))
    print(f"wrote {args.out}.png and {args.out}.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
