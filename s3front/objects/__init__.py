"""The objects layer: S3 semantics over the store protocols, shared by every backend."""
