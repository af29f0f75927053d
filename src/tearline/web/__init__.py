"""Web edges: the TAXII 2.1 server (and, mounted beside it later, the UI and the ledger API)."""
