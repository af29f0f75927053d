"""Use cases and transactions."""
