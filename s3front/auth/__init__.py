"""Authentication (skeleton by the lead; being written)."""
