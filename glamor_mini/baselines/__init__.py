"""Baselines sharing GLAMOR's encoders, replay and training loop (paper §3.6, §4.3; Table 1).

Importing this package registers every baseline in `glamor_mini.agents.AGENTS`:
'gcsl' (gcsl.py) and 'discern' (discern.py). Adding an algorithm: one module with an
`@register_agent("name")` Agent subclass, plus its import line here (the order of these lines is
the order of Table 1's columns after GLAMOR).
"""

# isort: off
from glamor_mini.baselines import gcsl  # noqa: F401  (registration)
from glamor_mini.baselines import discern  # noqa: F401  (registration)

# isort: on
