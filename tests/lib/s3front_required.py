"""What a suite needs from outside Python (Cassandra, a cluster, kustomize): under CI its
absence fails the run, since CI must run every suite; elsewhere the suite is skipped."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, reason: str) -> NoReturn:
    """`what` (e.g. "Cassandra") cannot be had, for `reason`: fail under CI, else skip."""
    if under_ci():
        pytest.fail(
            f"{what} is required under CI (no suite may be skipped): {reason}", pytrace=False
        )
    pytest.skip(f"no {what}: {reason}")
