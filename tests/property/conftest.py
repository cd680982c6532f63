"""Hypothesis settings for the parser properties: reproducible and nothing written to disk.

`derandomize=True` makes every run try the same examples (CI is deterministic; a failure
reproduces locally), and `database=None` keeps Hypothesis from writing `.hypothesis/` into the
repository (nor its caches: see below). S3FRONT_HYPOTHESIS_PROFILE=thorough runs ten times the examples with a random seed,
for a developer hunting bugs by hand.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis also keeps caches (Unicode tables, constants) under its home directory; keep them
# out of the repository too.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "s3front-hypothesis"))

settings.register_profile(
    "ci",
    database=None,
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    database=None,
    deadline=None,
    max_examples=1500,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("S3FRONT_HYPOTHESIS_PROFILE", "ci"))
