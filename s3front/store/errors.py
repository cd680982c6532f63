"""Errors a store backend raises. `s3front.errors.from_exception` maps them to S3 errors."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of backend failures."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or has too few replicas (-> 503 ServiceUnavailable)."""


class StoreTimeout(StoreError):
    """The database did not answer in time (-> 503 SlowDown)."""


class SchemaOutdated(StoreError):
    """The database schema is older than this server needs; run `s3front schema apply`."""
