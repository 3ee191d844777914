"""Options owned by one algorithm or one suite: which Config fields belong to whom.

Every option stays a field of `config.Config` (one flat dataclass at the bottom of the package:
``--discern_beta`` on the command line, ``make_config(..., discern_beta=2.0)`` and the
config.json of every run keep the same names, and old runs load unchanged). What moves to the
owner is the *declaration*: the module of an algorithm or a suite says which fields are its own,
usually as a small frozen dataclass that it reads them through,

    @dataclass(frozen=True)
    class DiscernOptions:          # baselines/discern.py: Config.discern_n_step, ...
        n_step: int
        ...

    register_options("DISCERN", DiscernOptions, prefix="discern_")
    opts = options_from(DiscernOptions, cfg, prefix="discern_")

or as a list of field names (a suite: ``register_options("Atari", ("game",))``).
``python -m glamor_mini.run --help`` prints one argument group per owner (`OPTION_GROUPS`) and
the remaining fields as the options every run shares. Like the other registries this one lives
below what it registers (it imports only config.py) and each owner registers itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from glamor_mini.config import Config

T = TypeVar("T")


@dataclass(frozen=True)
class OptionGroup:
    """The Config fields one algorithm or suite owns (`title`: how --help names the owner)."""

    title: str
    fields: tuple[str, ...]


OPTION_GROUPS: dict[str, OptionGroup] = {}
"""Owner title -> its OptionGroup, in registration order. Filled by `register_options`."""


def field_names(options: type | Sequence[str], prefix: str = "") -> tuple[str, ...]:
    """The Config field names of an options dataclass (`prefix` + each field) or of a list."""
    if isinstance(options, type) and dataclasses.is_dataclass(options):
        return tuple(prefix + f.name for f in dataclasses.fields(options))
    return tuple(prefix + name for name in options)


def register_options(title: str, options: type | Sequence[str], prefix: str = "") -> OptionGroup:
    """Declare the Config fields that `title` (an algorithm or suite) owns; returns the group.
    ValueError for a name that is not a Config field or that another owner already declared."""
    names = field_names(options, prefix)
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"{title} options {unknown} are not Config fields")
    taken = {n: g.title for g in OPTION_GROUPS.values() if g.title != title for n in g.fields}
    clash = [f"{n} ({taken[n]})" for n in names if n in taken]
    if clash:
        raise ValueError(f"{title} options already belong to another owner: {clash}")
    group = OPTION_GROUPS[title] = OptionGroup(title, names)
    return group


def options_from(options: type[T], cfg: Any, prefix: str = "") -> T:
    """An options dataclass filled from `cfg`'s fields (`prefix` + each field name)."""
    return options(**{f.name: getattr(cfg, prefix + f.name) for f in dataclasses.fields(options)})


def owner_of(name: str) -> str | None:
    """The title of the owner of Config field `name` (None: an option every run shares)."""
    return next((g.title for g in OPTION_GROUPS.values() if name in g.fields), None)


__all__ = [
    "OPTION_GROUPS",
    "OptionGroup",
    "field_names",
    "options_from",
    "owner_of",
    "register_options",
]
