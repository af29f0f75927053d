"""Pure sanitising logic: the protected-term gate (``normalize``, ``scanner``), tearline and canary."""
