"""Experiments (A/B tests): named variants of the serving settings, each user in one of them.

- ``definitions.py``: an experiment and its variants; the ``$experiment`` control events that
  start and stop one (the log holds the assignment rule with the start).
- ``assignment.py``: which variant a user is in, a hash of the experiment and the user.
- ``overrides.py``: the settings a variant may override, checked, made into serving plans.
- ``registry.py``: the experiments the log started and stopped, and the feedback on their
  lists (part of the engine state: a replay rebuilds it).
- ``exposures.py``: the lists shown per variant and to how many users (``experiments.db``,
  or Redis for replicas).
- ``statistics.py`` and ``report.py``: rates with confidence intervals, and the verdict.
"""
