"""Appendix A.1 exactly: GCSL vs GLAMOR on a one-step MDP (Eq. 11-12), in numpy.

In a one-step MDP with goal distribution p(g) and outcome probabilities p(s = g | a), GCSL that
distils its own relabelled on-policy data perfectly evolves as

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
The same quantities read off trained models are die_learned.py's; glamor_mini.appendix gathers
both.

Shapes: policies are (G, A) arrays (goal rows, action columns); p_outcome is (A, G).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


__all__ = [
    "ACTS",
    "OPERATORS",
    "OperatorRun",
    "action_marginal",
    "bayes_choices",
    "behaviour",
    "exact_operators",
    "fixed_points",
    "gcsl_step",
    "glamor_choice",
    "iterate_gcsl",
    "iterate_operator",
    "optimal_policy",
    "overall_success",
    "success_rates",
    "uniform_policy",
]
