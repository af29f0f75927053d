"""Per-recipient fingerprints: a keyed, collusion-resistant code embedded in meaning-preserving
choices of each released object, and the reading and scoring that trace a leaked copy (pure: no I/O).

See docs/trace.md for what it changes in the bytes and what it cannot survive.
"""
