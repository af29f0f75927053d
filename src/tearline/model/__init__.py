"""The domain model: frozen dataclasses and enums, no I/O."""
