"""s3front: an S3-compatible object store front-end on Apache Cassandra or embedded SQLite."""

__version__ = "0.1.0"
