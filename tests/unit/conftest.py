"""Hypothesis profiles for the validator suites.

`ci` (the default) is derandomized: the examples depend only on the test code, so a red build
is reproducible on any machine and a green one does not turn red on an unrelated change because
hypothesis drew a new example. Exploration is a separate, deliberate act: run with
HYPOTHESIS_PROFILE=explore (random, keeps failures in .hypothesis/) or HYPOTHESIS_PROFILE=soak
(many more examples) while working on the validator.
"""

import os

from hypothesis import HealthCheck, settings

SLOW_GENERATION = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=SLOW_GENERATION,
)
settings.register_profile(
    "explore", max_examples=1000, deadline=None, suppress_health_check=SLOW_GENERATION
)
settings.register_profile(
    "soak", max_examples=20000, deadline=None, suppress_health_check=SLOW_GENERATION
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
