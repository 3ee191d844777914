"""Baselines sharing GLAMOR's encoders, replay and training loop (paper §3.6, §4.3; Table 1).

Importing this package registers every baseline in `glamor_mini.agents.AGENTS`:
'gcsl' (gcsl.py) and 'discern' (discern.py).
"""

from glamor_mini.baselines import discern, gcsl  # noqa: F401  (registration)
