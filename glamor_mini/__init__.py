"""glamor-mini: an educational reference implementation of GLAMOR.

"Planning from Pixels using Inverse Dynamics Models", Paster, McIlraith & Ba, ICLR 2021.

Modules mirror the paper: `models` (§3.4, Eq. 9), `replay` (hindsight relabelling), `planner`
(Eq. 8), `policies` (§3.5), `train` (Algorithm 1), `evaluate` (§4.4), `config` + `run` (the CLI).
Heavy modules are imported on first use so `import glamor_mini` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Config": "glamor_mini.config",
    "make_config": "glamor_mini.resolve",
    "PRESETS": "glamor_mini.presets",
    "GlamorModel": "glamor_mini.models",
    "PlannerSettings": "glamor_mini.planner",
    "plan": "glamor_mini.planner",
    "score": "glamor_mini.planner",
    "ReplayBuffer": "glamor_mini.replay",
    "train": "glamor_mini.train",
    "Trainer": "glamor_mini.train",
    "evaluate": "glamor_mini.evaluate",
    "make_task": "glamor_mini.envs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'glamor_mini' has no attribute {name!r}")


__all__ = sorted(_LAZY)
