"""tearline: share intelligence with allied partners, partner by partner, with proof of what went where."""

__version__ = "0.1.0"
