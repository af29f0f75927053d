"""The release ledger: an RFC 9162 Merkle log of every release, pure logic and crypto.

Modules: :mod:`hashing` (domain-separated hashes), :mod:`tree` (node addressing, the append
frontier), :mod:`proofs` (inclusion and consistency proofs over a node reader), :mod:`checkpoint`
(signed tree heads), :mod:`leaves` (leaf builders and their canonical bytes) and :mod:`verify`
(the standalone verifier a partner copies; it imports nothing of tearline).

Nothing here is imported by this ``__init__`` so that ``python -m tearline.ledger.verify`` runs the
verifier without importing it twice.
"""
