"""Appendix A.1 computed: GCSL vs GLAMOR on a one-step MDP, exactly and with learned models.
(Appendix A.2, causally correct models, is glamor_mini.causal.)

Two halves, gathered here under one name (the notebooks import from this module):

    die_operators.py   exactly (Eq. 11-12): GCSL's learning operator, sampling and greedy, and
                       GLAMOR's Bayes choice, iterated to their fixed points (numpy only)
    die_learned.py     the same quantities read off models trained on the die task
                       (glamor_mini.envs.die), the four agents trained, and the figure

``python -m glamor_mini.run appendix`` writes docs/figures/loaded_die.csv/.png (both dice, 3 seeds).
"""

from __future__ import annotations

import argparse
import json

from glamor_mini.die_learned import (
    DIE_VARIANTS,
    OPERATOR_STYLES,
    DieRecorder,
    DieRun,
    die_figure,
    gcsl_table,
    glamor_tables,
    learned_vs_exact,
    planner_choices,
    plot_die,
    plot_learned_vs_exact,
    train_die_variants,
)
from glamor_mini.die_operators import (
    OPERATORS,
    OperatorRun,
    action_marginal,
    bayes_choices,
    behaviour,
    exact_operators,
    fixed_points,
    gcsl_step,
    glamor_choice,
    iterate_gcsl,
    iterate_operator,
    optimal_policy,
    overall_success,
    success_rates,
    uniform_policy,
)

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
