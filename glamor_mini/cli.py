"""Command-line helpers shared by ``glamor_mini.run``, ``run sweep`` and ``glamor_mini.floor``.

A mistyped option should cost one line to read: argparse's default error prints the whole usage
block (28 lines for ``run``, every Config field) before the line that says what was wrong.
`ArgumentParser` prints the error first and points to ``--help`` instead.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a two-line error: what was wrong, then where the usage is (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\n(run `{self.prog} --help` for the accepted options)\n")


def is_terminal(stream=None) -> bool:
    """Whether `stream` (default stderr, where progress goes) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


__all__ = ["ArgumentParser", "is_terminal"]
