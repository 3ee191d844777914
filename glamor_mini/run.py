"""The one command line: ``python -m glamor_mini.run PRESET [--field value ...] [--out DIR]``
trains a preset; ``python -m glamor_mini.run SUBCOMMAND ...`` runs the rest (`SUBCOMMANDS`:
sweep, table1, floor, appendix, curves, gcsl-vs-glamor; each has its own ``--help``).

Examples
    python -m glamor_mini.run gridworld                      # the paper's 7x7 grid-world demo
    python -m glamor_mini.run gridworld --seed 1 --n_candidates 10 --out runs/n10
    python -m glamor_mini.run gridworld --layout docs/examples/maze.txt --horizon 16 --out runs/maze
    python -m glamor_mini.run debug --device cpu
    python -m glamor_mini.run sweep planning-compute     # a paper experiment (see experiments/)
    python -m glamor_mini.run table1 --suite grid --scale cpu   # Table 1 on Ray
    python -m glamor_mini.run floor --preset gridworld --seeds 0 1 2   # random-policy floor

Every Config field is an option (``PRESET --help`` lists them with their docs and the values that
preset uses). Booleans take true/false. The run directory defaults to runs/PRESET-seedS; rerunning
into it resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from glamor_mini.cli import ArgumentParser
from glamor_mini.config import Config, ConfigError, field_docs
from glamor_mini.options import OPTION_GROUPS, owner_of
from glamor_mini.presets import PRESETS, preset_config
from glamor_mini.resolve import make_config


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_int(text: str) -> int:
    try:
        return int(float(text)) if float(text).is_integer() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _sweep(argv: list[str]) -> int:
    from glamor_mini.experiments import sweep_main

    return sweep_main(argv)


def _table1(argv: list[str]) -> int:
    from glamor_mini.experiments.table1 import main

    return main(argv)


def _floor(argv: list[str]) -> int:
    from glamor_mini.floor import main

    return main(argv)


def _appendix(argv: list[str]) -> int:
    from glamor_mini.appendix import main

    return main(argv)


def _curves(argv: list[str]) -> int:
    from glamor_mini.experiments.curves import main

    return main(argv)


def _gcsl_vs_glamor(argv: list[str]) -> int:
    from glamor_mini.experiments.gcsl_vs_glamor import main

    return main(argv)


SUBCOMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "sweep": (_sweep, "train, evaluate and plot a paper experiment (EXPERIMENT below)"),
    "table1": (_table1, "Table 1 (GLAMOR vs DISCERN vs GCSL) on a suite, resumable, on Ray"),
    "floor": (_floor, "random and stop-at-t=0 floors on a preset's evaluation goals (§4.4)"),
    "appendix": (_appendix, "Appendix A.1: the loaded-die figure, exact and learned"),
    "curves": (_curves, "evaluation curves of finished run directories against floors"),
    "gcsl-vs-glamor": (_gcsl_vs_glamor, "GLAMOR vs GCSL learning curves on a preset (§4.3)"),
}
"""Sub-command -> (its main(argv) -> exit code, one line for `run --help`)."""


def _preset_line(name: str) -> str:
    """One line describing a preset, read off its values (suite, env, budget)."""
    from glamor_mini.envs import SUITES

    cfg = preset_config(name)
    suite = SUITES.get(cfg.suite)
    env = f" {getattr(cfg, suite.env_field)}" if suite and suite.env_field else ""
    return f"{cfg.suite}{env}, {cfg.total_steps:,} agent steps"


def _epilog() -> str:
    from glamor_mini.experiments import EXPERIMENTS

    lines = ["presets (PRESET --help shows a preset's values):"]
    lines += [f"  {name:<19}{_preset_line(name)}" for name in sorted(PRESETS)]
    lines.append("sub-commands (SUBCOMMAND --help for its options):")
    lines += [f"  {name:<19}{line}" for name, (_, line) in SUBCOMMANDS.items()]
    lines.append(
        textwrap.fill(
            f"EXPERIMENT: {', '.join(EXPERIMENTS)}",
            95,
            initial_indent=" " * 21,
            subsequent_indent=" " * 21,
        )
    )
    return "\n".join(lines)


def build_parser(preset: str | None = None) -> argparse.ArgumentParser:
    """The run parser; with a known `preset` its --help shows the values that preset uses."""
    known = preset in PRESETS
    # the values that will be used: the preset resolved (e.g. a horizon derived from the layout)
    values = make_config(preset).to_dict() if known else Config().to_dict()
    shown = (
        f"the values the {preset} preset uses"
        if known
        else "the base Config's;\n`python -m glamor_mini.run PRESET --help` shows a preset's values"
    )
    p = ArgumentParser(
        prog="python -m glamor_mini.run",
        usage="%(prog)s PRESET [--field VALUE ...] [--out DIR]\n"
        "       %(prog)s sweep EXPERIMENT [--scale S] [--seeds ...]\n"
        "       %(prog)s SUBCOMMAND [...]   (" + " | ".join(SUBCOMMANDS) + ")",
        description="Train and evaluate GLAMOR (Paster et al., ICLR 2021) from a named preset.\n"
        f"Defaults below are {shown}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_epilog(),
        allow_abbrev=False,
    )
    p.add_argument(
        "preset", help=f"one of: {', '.join(sorted(PRESETS))} (or a sub-command, listed below)"
    )
    p.add_argument("--out", default=None, help="run directory (default runs/PRESET-seedS)")
    p.add_argument(
        "--reevaluate",
        action="store_true",
        help="evaluate a finished run again (otherwise rerunning it does nothing)",
    )
    docs = field_docs()
    types = {"int": _parse_int, "float": float, "str": str, "bool": _parse_bool}
    # one argument group per owner (options.OPTION_GROUPS: an algorithm's or a suite's fields)
    shared = p.add_argument_group("options of every run (Config fields)")
    groups = {t: p.add_argument_group(f"{t} options") for t in OPTION_GROUPS}
    for f in dataclasses.fields(Config):
        owner = owner_of(f.name)
        (shared if owner is None else groups[owner]).add_argument(
            f"--{f.name}",
            type=types[str(f.type)],
            default=None,
            metavar=str(f.type).upper(),
            help=f"{docs.get(f.name, '')} (default: {values[f.name]!r})".replace("%", "%%"),
        )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:  # python -m glamor_mini.run table1 --suite grid ...
        return SUBCOMMANDS[argv[0]][0](argv[1:])
    parser = build_parser(argv[0] if argv else None)  # PRESET --help: that preset's values
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        names = [f"--{f.name}" for f in dataclasses.fields(Config)] + ["--out", "--reevaluate"]
        opt = unknown[0].split("=")[0]
        close = difflib.get_close_matches(opt, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        parser.error(f"unknown option {opt}{hint}")
    if args.preset not in PRESETS:
        parser.error(
            f"unknown preset {args.preset!r} (nor a sub-command); accepted presets: "
            f"{', '.join(sorted(PRESETS))}; sub-commands: {', '.join(SUBCOMMANDS)}"
        )
    skip = ("preset", "out", "reevaluate")
    overrides = {k: v for k, v in vars(args).items() if k not in skip and v is not None}
    try:
        cfg = make_config(args.preset, **overrides)
    except ConfigError as err:
        parser.error(str(err))
    out = Path(args.out or f"runs/{args.preset}-seed{cfg.seed}")
    from glamor_mini.agents import NonFiniteLossError
    from glamor_mini.train import CheckpointError, Interrupted, train

    try:
        result = train(cfg, out, reevaluate=args.reevaluate)
    except Interrupted as err:
        print(f"\n{err}", file=sys.stderr)
        return err.exit_code  # 130 after Ctrl-C, 143 after SIGTERM
    except (ConfigError, CheckpointError, NonFiniteLossError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result.already_finished:
        return 0
    summary = {
        **(result.eval.summary() if result.eval else {}),
        "agent_steps": result.agent_steps,
        "wall_seconds": round(result.wall_seconds, 1),
    }
    print(json.dumps(summary, indent=2))
    print(f"run directory: {result.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
